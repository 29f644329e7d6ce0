// Lighthouse over a list of page states, in one Chromium (its start paid once), one
// page state after the other: tests/e2e/test_page_audits.py writes the plan and reads
// the results.
//
//   node lighthouse.mjs PLAN.json RESULTS.json
//
// PLAN: {"chrome": "/usr/bin/chromium", "flags": [...], "runsInDoubt": 5, "states": [...]}: a STATE
// being {"name", "url"} (Lighthouse navigates to it), or a form to send first:
// {"name", "url", "fill": {field: value}, "submit": "css selector"}: the form page is
// opened outside the measurement, filled in, and the navigation Lighthouse measures is
// the one its submit button starts (a POST answer cannot be reached by URL).
//
// RESULTS: [{"name", "finalUrl", "status", "scores": {category: 0..100}, "failing":
// [{"id", "category", "title", "score", "displayValue", "explanation", "where"}],
// "runtimeError", "hostTooSlow", "performanceRuns": [{"score", "tbt", "benchmark",
// "work"}], "seconds"}], one per state, in the plan's order. Lighthouse's defaults
// otherwise: the mobile form factor (a Moto G Power class phone) and simulated
// throttling (slow 4G, 4x CPU), computed from the trace rather than by slowing the
// machine; but the browser's own tasks on a busy machine still count, 4x: see `median`.
import {readFileSync, writeFileSync} from 'node:fs';

import {navigation} from 'lighthouse';
import puppeteer from 'puppeteer-core';

const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];

const [planPath, resultsPath] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(planPath, 'utf8'));

/** Audits of the run that lost points, with the category they count in. */
function failing(lhr) {
  const out = [];
  for (const id of CATEGORIES) {
    for (const ref of lhr.categories[id]?.auditRefs ?? []) {
      const audit = lhr.audits[ref.id];
      if (ref.weight > 0 && audit.score !== null && audit.score < 1) {
        out.push({
          id: ref.id, category: id, title: audit.title, score: audit.score,
          displayValue: audit.displayValue ?? '', explanation: audit.explanation ?? '',
          where: (audit.details?.items ?? []).slice(0, 3)
            .map((item) => item.node?.snippet ?? item.description ?? item.url ?? '')
            .filter(Boolean),
        });
      }
    }
  }
  return out;
}

/** What Lighthouse should measure: the plain URL, or the submit of a filled-in form. */
async function requestor(page, state) {
  if (!state.submit) return state.url;
  await page.goto(state.url, {waitUntil: 'load'});
  await page.evaluate((values) => {
    for (const [name, value] of Object.entries(values)) {
      document.querySelector(`form [name="${name}"]`).value = value;
    }
  }, state.fill ?? {});
  return async () => {
    await Promise.all([page.waitForNavigation({waitUntil: 'load'}), page.click(state.submit)]);
  };
}

/** One Lighthouse run of `state`: its report (lhr) and how long it took. */
async function once(page, state) {
  const started = Date.now();
  const run = await navigation(page, await requestor(page, state), {
    flags: {
      onlyCategories: CATEGORIES,
      logLevel: 'error',
      // An error page (404, 422) is audited too: its status must stay, and the SEO
      // audit http-status-code reports it (the test expects exactly that).
      ignoreStatusCode: true,
      // A form's answer is measured after the form was opened: keep its cookie.
      disableStorageReset: Boolean(state.submit),
      disableFullPageScreenshot: true, // a picture for the HTML report, scored nowhere
      // The pages run no script and may load nothing but themselves (their CSP): nothing
      // can happen after the load event, so Lighthouse's waits for quiet after it (1 s
      // each by default) are shortened to keep the whole plan's time down.
      pauseAfterFcpMs: 250,
      pauseAfterLoadMs: 250,
      networkQuietThresholdMs: 250,
      cpuQuietThresholdMs: 250,
    },
  });
  return {lhr: run.lhr, seconds: (Date.now() - started) / 1000};
}

// Lighthouse's own bar for a host fast enough to measure performance on: below it, its
// report warns "The tested device appears to have a slower CPU than Lighthouse expects"
// (core/gather/driver/environment.js, SLOW_CPU_BENCHMARK_INDEX_THRESHOLD).
const SLOW_HOST = 1000;
const fastHost = (r) => !r.lhr.runtimeError && r.lhr.environment.benchmarkIndex > SLOW_HOST;

/** The median of `runs` by performance score, of those that completed. (A run on a slow
 * host counts too: a slow host can only lower the score.) */
function median(runs) {
  const done = runs.filter((r) => !r.lhr.runtimeError);
  if (!done.length) return runs[runs.length - 1];
  done.sort((a, b) => a.lhr.categories.performance.score - b.lhr.categories.performance.score);
  return done[Math.floor((done.length - 1) / 2)];
}

const browser = await puppeteer.launch({
  executablePath: plan.chrome,
  headless: true,
  args: plan.flags,
  defaultViewport: null,
});
const results = [];
try {
  const page = await browser.newPage();
  for (const state of plan.states) {
    // One run, and when it is in doubt (performance under 100, or no result) more, and
    // their median, as Lighthouse's docs advise for variability
    // (docs/variability.md): on a busy machine the browser's own tasks take longer, and
    // Total Blocking Time multiplies them by the simulated CPU slowdown (4x).
    const runs = [await once(page, state)];
    const doubt = (r) => r.lhr.runtimeError || r.lhr.categories.performance.score < 1;
    // A run without a result (a trace Chromium did not finish: "NO_NAVSTART", seen on a
    // busy machine) is replaced, twice at most, so that the median is of an odd count.
    const completed = () => runs.filter((r) => !r.lhr.runtimeError).length;
    if (doubt(runs[0])) {
      for (let i = 1; i < plan.runsInDoubt + 2 && completed() < plan.runsInDoubt; i++) {
        runs.push(await once(page, state));
      }
    }
    const chosen = median(runs);
    const {lhr} = chosen;
    const scores = Object.fromEntries(
      CATEGORIES.map((id) => [id, Math.round((lhr.categories[id]?.score ?? 0) * 100)]));
    const main = lhr.audits['network-requests']?.details?.items?.[0];
    results.push({
      name: state.name,
      finalUrl: lhr.finalDisplayedUrl,
      status: main?.statusCode ?? null,
      scores,
      failing: failing(lhr),
      runtimeError: lhr.runtimeError?.message ?? null,
      // Under 100, and no run on a fast enough host: performance not measurable here now.
      hostTooSlow: !(lhr.categories.performance?.score >= 1) && !runs.some(fastHost),
      // Per run: the performance score, Total Blocking Time (ms) and Lighthouse's
      // benchmark of the machine's speed at the time (BenchmarkIndex; lower is slower).
      performanceRuns: runs.map((r) => ({
        score: Math.round((r.lhr.categories.performance?.score ?? 0) * 100),
        tbt: Math.round(r.lhr.audits['total-blocking-time']?.numericValue ?? -1),
        benchmark: Math.round(r.lhr.environment?.benchmarkIndex ?? -1),
        // Main-thread work by kind (ms, simulated 4x CPU): what Total Blocking Time is made of.
        work: Object.fromEntries((r.lhr.audits['mainthread-work-breakdown']?.details?.items ?? [])
          .map((item) => [item.group, Math.round(item.duration)])),
      })),
      seconds: runs.reduce((sum, r) => sum + r.seconds, 0),
    });
  }
} finally {
  await browser.close();
}
writeFileSync(resultsPath, JSON.stringify(results, null, 2));
