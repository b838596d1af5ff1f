// The visit sheet's "Print" button: the browser's own print dialog, with the sheet's print styles.
document.getElementById("print-sheet").addEventListener("click", () => window.print());
