/**
 * Preloaded into kiln's node process by the benchmark (NODE_OPTIONS=--require …). At exit it records
 * the peak resident set size of this process alone — not of the tools it starts — in
 * $KILN_BENCH_RSS_DIR/<pid>.json:
 *   vmHWM  the high-water mark of this process's own address space (/proc/self/status VmHWM);
 *   maxRSS getrusage(RUSAGE_SELF).ru_maxrss, which can also count the parent's pages copied at fork.
 * Child processes inherit NODE_OPTIONS; a node child would write its own <pid>.json, which the
 * harness ignores, since it reads only the file of the pid it started.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.KILN_BENCH_RSS_DIR;
if (dir) {
  process.on('exit', () => {
    try {
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      const vmHWM = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
      const record = { pid: process.pid, vmHWMkB: vmHWM, maxRSSkB: process.resourceUsage().maxRSS };
      fs.writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(record));
    } catch {
      // Measuring must never change how kiln exits.
    }
  });
}
