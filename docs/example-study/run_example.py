"""The worked example: a scaled-down architecture study on engine-rendered (synthetic) data.

Three "datasets" are rendered with ``drumscribe.synth`` from disjoint groups of drum kits (kit families
stand in for the thesis's datasets). Every architecture is tuned, selected and tested on each of the two
sampled-kit groups with a small budget, and each selected model is also tested on the other group and
on the procedural-kit group (out-of-domain). A small dataset study follows: CRNN on H2, SF and H2+SF
(the single-group cells are the architecture study's), tested on all three groups. Everything is synthetic and the budget is tiny; the numbers show that the pipeline
runs end to end, not how good the architectures are.

    python docs/example-study/run_example.py --work /tmp/ds-example   # renders, tunes, reports
    python docs/example-study/run_example.py --work /tmp/ds-example --report-only

The report is copied to docs/example-study/report/. Re-running resumes: finished renders and cells
are kept.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

from drumscribe.studies.architecture import run_architecture_study
from drumscribe.studies.cells import DatasetSpec, StudySettings
from drumscribe.studies.datasets import run_datasets_study
from drumscribe.studies.report import write_reports
from drumscribe.synth.render import SynthConfig, render_dataset

HERE = Path(__file__).resolve().parent
#: the Groove MIDI Dataset beside the repository (../shared/data/gmd), as on the CI machine
GMD = HERE.parents[2] / "shared" / "data" / "gmd"

#: name -> (kit name substrings, test kits, validation kits); procedural_share 0 keeps the groups apart
KIT_GROUPS = {
    "H2": (["hydrogen:"], None, None),  # Hydrogen drum kits; test/validation families held out automatically
    "SF": (["sf:", "avl:Red"], ["TimGM6mb"], ["Red_Zeppelin"]),  # GM soundfont kits (+ one AVL kit)
    "PROC": (["procedural"], None, None),  # procedurally synthesised kits only
}
HOURS = 0.06  # 22 tracks of 10 s per group
TRACK_S = 10.0

NOTE = (
    "SYNTHETIC DATA, SMALL BUDGET. Worked example of `drumscribe study architecture` on engine-rendered "
    f"data: three kit groups ({', '.join(KIT_GROUPS)}) of {HOURS * 60:.1f} min each stand in for datasets; "
    "models are trained on H2 and SF, PROC is a test set only. 2 trials of 4 epochs x 10 steps x 8 windows "
    "per cell on 2 shared CPU cores, narrowed search spaces. The numbers show the pipeline end to end; they "
    "say nothing about the architectures at thesis scale."
)

SETTINGS = StudySettings(
    trials=2,
    epochs=4,
    seed=2025,
    cpus_per_trial=1,
    max_concurrent_trials=2,
    fixed={
        "lr": [2e-3, 5e-3],
        "rnn.num_layers": 2,
        "rnn.hidden_size": [72, 144],
        "crnn.num_layers": 2,
        "crnn.hidden_size": 72,
        "cnn.num_blocks": [1, 2],
        "cnn.num_layers": 1,
        "cnn.hidden_size": 72,
        "ct.num_layers": 2,
        "ct.embed_dim": 72,
        "vit.num_layers": 2,
        "vit.embed_dim": 72,
    },
    train={"steps_per_epoch": 10, "batch_size": 8},
    verbose=0,
)


def render(work: Path, gmd: Path) -> dict[str, DatasetSpec]:
    specs = {}
    for i, (name, (kits, test_kits, validation_kits)) in enumerate(KIT_GROUPS.items()):
        out = work / "data" / name.lower()
        cfg = SynthConfig(
            hours=HOURS,
            seed=100 + i,
            track_s=TRACK_S,
            gmd=str(gmd),
            kits=kits,
            test_kits=test_kits,
            validation_kits=validation_kits,
            validation_share=0.2,
            test_share=0.2,
            procedural_share=0.0 if kits != ["procedural"] else 1.0,
            name=f"synth-{name.lower()}",
        )
        if not (out / "manifest.json").is_file():
            t0 = time.monotonic()
            render_dataset(out, cfg)
            logging.info("rendered %s in %.0f s", name, time.monotonic() - t0)
        specs[name] = DatasetSpec(name, (str(out),))
    return specs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/ds-example", help="folder for stores and the study")
    p.add_argument("--archs", default="rnn,cnn,crnn,ct,vit")
    p.add_argument("--gmd", type=Path, default=GMD, help="Groove MIDI Dataset folder (its info.csv)")
    p.add_argument("--render-only", action="store_true")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    work = Path(args.work)
    study = work / "study"
    if not args.report_only and not (args.gmd / "info.csv").is_file():
        p.error(f"{args.gmd}: no Groove MIDI Dataset there (info.csv); give its folder with --gmd")
    if not args.report_only:
        specs = render(work, args.gmd)
        if args.render_only:
            return
        t0 = time.monotonic()
        run_architecture_study(
            specs, args.archs.split(","), study, SETTINGS, cross=True, note=NOTE, test_only=["PROC"]
        )
        logging.info("architecture study finished in %.0f s", time.monotonic() - t0)
        t0 = time.monotonic()
        # dataset study: the single-group CRNN cells are reused from the architecture study
        run_datasets_study(
            specs,
            [("H2",), ("SF",), ("H2", "SF")],
            study,
            test_sets=["H2", "SF", "PROC"],
            settings=SETTINGS,
            arch="crnn",
            note=NOTE.replace("`drumscribe study architecture`", "`drumscribe study datasets`"),
        )
        logging.info("dataset study finished in %.0f s", time.monotonic() - t0)
    write_reports(study)
    target = HERE / "report"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(study / "report", target)
    logging.info("report copied to %s", target)


if __name__ == "__main__":
    main()
