// The roster: a page drawn on the server, whose filters and sorting are plain links and
// forms; the script writes its dates in the page's language and signs out everywhere.

import { start } from "./page.js";

start();
