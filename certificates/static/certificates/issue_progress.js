/* The class issue page: while the class's certificates are being issued (a background task), the
   progress bar follows the job (GET certificates/jobs/<id>/, JSON: status, done, total, issued); when the
   job has finished the page is loaded again and shows the outcome table. */
(function () {
  "use strict";
  var box = document.getElementById("issue-progress");
  if (!box) { return; }
  var labels = JSON.parse(document.getElementById("issue-labels").textContent);
  var bar = box.querySelector("progress");
  var text = document.getElementById("issue-progress-text");
  var url = box.dataset.url;
  var delay = 1000, failures = 0;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return String(values[key]); });
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (r) {
        if (!r.ok) { throw new Error("status " + r.status); }
        return r.json();
      })
      .then(function (job) {
        failures = 0;
        bar.max = Math.max(job.total, 1);
        bar.value = job.done;
        bar.textContent = job.done + "/" + job.total;
        text.textContent = fill(labels.progress, job);
        if (job.finished) {
          window.location.reload();
          return;
        }
        delay = Math.min(delay + 250, 3000);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        failures += 1;
        text.textContent = labels.lost;
        window.setTimeout(poll, Math.min(2000 * failures, 15000));
      });
  }

  window.setTimeout(poll, 500);
}());
