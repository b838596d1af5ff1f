// One Lighthouse run of a page of the app, with its mobile defaults, in the Chromium that
// CHROME_PATH names: node run.mjs URL REPORT.json COOKIES_JSON HEADERS_JSON.
//
// The cookies (a session) are put in the browser's own cookie jar before the run, so that every
// request sends them, the service worker's too (headers given to Lighthouse reach only the page's
// requests). The headers go with the page's requests (the proxy's X-Forwarded-Proto).

import fs from "node:fs";
import * as chromeLauncher from "chrome-launcher";
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";

const [url, reportPath, cookiesJson = "[]", headersJson = "{}"] = process.argv.slice(2);
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROME_PATH,
  chromeFlags: ["--headless", "--no-sandbox"],
});
try {
  const browser = await puppeteer.connect({ browserURL: `http://127.0.0.1:${chrome.port}` });
  const cookies = JSON.parse(cookiesJson);
  if (cookies.length) {
    const page = await browser.newPage();
    await page.setCookie(...cookies.map((cookie) => ({ ...cookie, url })));
    await page.close();
  }
  const result = await lighthouse(url, {
    port: chrome.port,
    output: "json",
    logLevel: "error",
    onlyCategories: ["performance", "accessibility", "best-practices", "seo"],
    extraHeaders: JSON.parse(headersJson),
    // The browser's profile is new for this run: nothing to reset, and the cookies set above stay.
    disableStorageReset: true,
  });
  fs.writeFileSync(reportPath, result.report);
  await browser.disconnect();
} finally {
  await chrome.kill();
}
