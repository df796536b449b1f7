// The filter row: a date range and a source limit what an answer draws from. Kept apart from
// app.js so that the page's question/answer code only asks for ragFilters() when it sends.
"use strict";

(function () {
  const ids = { published_after: "filter-after", published_before: "filter-before",
    source: "filter-source" };

  // The filters the row sets, as request fields (empty ones left out).
  window.ragFilters = function ragFilters() {
    const out = {};
    for (const [field, id] of Object.entries(ids)) {
      const input = document.getElementById(id);
      const value = input ? input.value.trim() : "";
      if (value) out[field] = value;
    }
    return out;
  };

  document.addEventListener("DOMContentLoaded", () => {
    const clear = document.getElementById("filter-clear");
    if (!clear) return;
    clear.addEventListener("click", () => {
      for (const id of Object.values(ids)) document.getElementById(id).value = "";
    });
  });
})();
