#!/usr/bin/env bash
# Check Clone Hero song folders (drumscribe transcribe -f clonehero) with the community checker scan-chart
# (npm, the library chart sites use): playable or not, drum type, notes per difficulty, and every issue it
# reports. Needs node and npm. scan-chart 7.0.1 depends on a git-hosted audio-fingerprint package that only its
# audio scan uses, so it is installed from its npm tarball without that one dependency.
#   scripts/scan_chart.sh OUT/song-clonehero [MORE_FOLDERS...]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 SONG_FOLDER..." >&2; exit 2; }
VERSION=7.0.1
DIR=${SCAN_CHART_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/drumscribe/scan-chart-$VERSION}
if [ ! -f "$DIR/package/dist/index.js" ] || [ ! -d "$DIR/package/node_modules" ]; then
  rm -rf "$DIR.part" && mkdir -p "$DIR.part"
  (cd "$DIR.part" && npm pack --silent "scan-chart@$VERSION" >/dev/null && tar xzf "scan-chart-$VERSION.tgz" \
    && node -e '
      const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package/package.json"));
      delete p.dependencies["stream-audio-fingerprint"]; delete p.devDependencies; p.scripts = {};
      fs.writeFileSync("package/package.json", JSON.stringify(p));' \
    && cd package && npm install --silent --ignore-scripts --omit=dev >/dev/null)
  rm -rf "$DIR" && mv "$DIR.part" "$DIR"
fi
SCAN_CHART="$DIR/package" node - "$@" <<'JS'
const fs = require("fs"), path = require("path");
const sc = require(process.env.SCAN_CHART);
let bad = 0;
for (const dir of process.argv.slice(2)) {
  const files = fs.readdirSync(dir).map((f) => ({fileName: f, data: new Uint8Array(fs.readFileSync(path.join(dir, f)))}));
  const r = sc.scanChartFolder(files);
  const notes = r.notesData;
  const counts = notes ? Object.fromEntries(notes.noteCounts.filter((c) => c.instrument === "drums").map((c) => [c.difficulty, c.count])) : {};
  const issues = notes ? notes.chartIssues.map((i) => `${i.noteIssue}${i.difficulty ? "@" + i.difficulty : ""}`) : [];
  console.log(JSON.stringify({folder: dir, playable: r.playable, drumType: notes && notes.drumType, pro_drums: r.pro_drums,
    notes: counts, chartIssues: [...new Set(issues)], folderIssues: r.folderIssues.map((i) => i.folderIssue),
    metadataIssues: r.metadataIssues.map((i) => {
      const key = i.description.match(/"([^"]+)"/);
      return key ? `${i.metadataIssue}:${key[1]}` : i.metadataIssue;
    })}));
  if (!r.playable) bad++;
}
process.exit(bad ? 1 : 0);
JS
