#!/usr/bin/env bash
# Real guitar recordings without drums for `drumscribe synth --stems`: the guitar tracks of the eight songs
# in Debian's Frets on Fire song packages (fretsonfire-songs-muldjord: Muldjord / El Senator, CC BY-SA 3.0;
# fretsonfire-songs-sectoid: Carlos Viola Iborra "Sectoid", MIT-style licence). No root needed: the
# packages are downloaded and unpacked, not installed.
#
#   scripts/fetch_stems.sh OUT_DIR
#
# writes OUT_DIR/train/*.ogg (six songs, for renders), OUT_DIR/heldout/*.ogg (one song of each artist,
# never rendered: benchmarks/band_false_hits.py --stems OUT_DIR/heldout measures false hits on them),
# OUT_DIR/bands/*.ogg (the six training songs' band without the guitar, drums included, for
# scripts/pseudo_mixes.py), OUT_DIR/songs/NAME/ (all eight songs as the game has them: song.ogg, guitar.ogg and
# the chart notes.mid, whose tempo map benchmarks/beats.py --songs scores the tempo and beats against) and
# OUT_DIR/CREDITS.txt with both packages' copyright files. Re-running it keeps what is there.
set -euo pipefail
OUT=${1:?usage: scripts/fetch_stems.sh OUT_DIR}
HELDOUT=("internal_degeneration" "War_of_freedom")
if [ -f "$OUT/CREDITS.txt" ] && [ -d "$OUT/bands" ] && [ -d "$OUT/songs" ]; then
  echo "$OUT: stems already there"; exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download -q fretsonfire-songs-muldjord fretsonfire-songs-sectoid)
for deb in "$TMP"/*.deb; do dpkg-deb -x "$deb" "$TMP/x"; done
mkdir -p "$OUT/train.part" "$OUT/heldout.part" "$OUT/bands.part" "$OUT/songs.part"
for dir in "$TMP"/x/usr/share/games/fretsonfire/data/songs/*/*/; do
  name=$(basename "$dir" | tr ' ' '_')
  dest=train.part
  for h in "${HELDOUT[@]}"; do [ "$name" = "$h" ] && dest=heldout.part; done
  cp "$dir/guitar.ogg" "$OUT/$dest/$name.ogg"
  if [ "$dest" = train.part ]; then cp "$dir/song.ogg" "$OUT/bands.part/$name.ogg"; fi
  mkdir -p "$OUT/songs.part/$name"
  for f in song.ogg guitar.ogg notes.mid song.ini; do [ -f "$dir/$f" ] && cp "$dir/$f" "$OUT/songs.part/$name/"; done
done
rm -rf "$OUT/train" "$OUT/heldout" "$OUT/bands" "$OUT/songs"
mv "$OUT/train.part" "$OUT/train"
mv "$OUT/heldout.part" "$OUT/heldout"
mv "$OUT/bands.part" "$OUT/bands"
mv "$OUT/songs.part" "$OUT/songs"
{
  echo "Guitar tracks of the Frets on Fire song packages of Debian, used as drumless stems."
  for pkg in fretsonfire-songs-muldjord fretsonfire-songs-sectoid; do
    echo; echo "=== $pkg ==="; cat "$TMP/x/usr/share/doc/$pkg/copyright"
  done
} > "$OUT/CREDITS.txt.part"
mv "$OUT/CREDITS.txt.part" "$OUT/CREDITS.txt"
echo "$OUT: $(ls "$OUT/train" | wc -l) training stems, $(ls "$OUT/heldout" | wc -l) held out"
