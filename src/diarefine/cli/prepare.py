"""``diarefine prepare FORMAT SRC -o manifest.jsonl``: a corpus layout into a manifest."""

from __future__ import annotations

from pathlib import Path

import click

from diarefine.data.corpora import FORMATS, write_derived
from diarefine.data.corpora import prepare as prepare_corpus
from diarefine.data.manifest import write_manifest
from diarefine.errors import DiarefineError


@click.command()
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Manifest to write (JSONL).")
@click.option("--protocol", default=None,
              help="pyannote: protocol as Database.Task.Name, e.g. Debug.SpeakerDiarization.Debug.")
@click.option("--subset", type=click.Choice(["train", "development", "test"]), default="test",
              show_default=True, help="pyannote: protocol subset.")
@click.option("--partition", type=click.Choice(["core", "full"]), default="full",
              show_default=True, help="dihard: scoring partition (its UEM).")
@click.option("--rttm-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="voxconverse: folder of per-file RTTMs [default: SRC/rttm].")
@click.option("--audio-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="voxconverse: audio folder [default: SRC/audio].")
@click.option("--split", default=None, help="Value of the manifest's split field "
              "[default: the pyannote subset, else none].")
@click.option("--supervisions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="lhotse: supervisions manifest [default: beside the recordings manifest, "
              "'supervisions' for 'recordings' in its name].")
@click.option("--allow-missing", is_flag=True,
              help="Write the complete recordings even when others have problems.")
@click.option("--nemo", "nemo_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the recordings as a NeMo diarization manifest.")
@click.option("--lhotse", "lhotse_out", type=click.Path(file_okay=False, path_type=Path),
              help="Also write OUTDIR/recordings.jsonl.gz and OUTDIR/supervisions.jsonl.gz "
              "(lhotse manifests).")
def prepare(fmt: str, src: Path, output: Path, protocol: str | None, subset: str,
            partition: str, rttm_dir: Path | None, audio_dir: Path | None, split: str | None,
            supervisions: Path | None, allow_missing: bool, nemo_out: Path | None,
            lhotse_out: Path | None) -> None:
    """Read a corpus in FORMAT (kaldi, voxconverse, dihard, pyannote, nemo: a NeMo
    diarization manifest, lhotse: recordings + supervisions manifests) at SRC into a
    manifest (and, with --nemo or --lhotse, a NeMo or lhotse one).

    lhotse: SRC is the recordings manifest (.jsonl, .jsonl.gz, .json) or a folder holding
    one *recordings* manifest; a relative audio path is taken from the working directory,
    else from the manifest's folder. Its references become one RTTM per recording in
    OUTPUT's folder, <OUTPUT stem>-rttm/ (empty for a recording without supervisions).

    Every missing or mismatched file is reported by recording id. With any problem nothing
    is written and the exit status is 2, unless --allow-missing.
    """
    result = prepare_corpus(fmt, src, protocol=protocol, subset=subset, partition=partition,
                            rttm_dir=rttm_dir, audio_dir=audio_dir, split=split,
                            supervisions=supervisions,
                            reference_dir=output.with_name(f"{output.stem}-rttm"))
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    if result.problems and not allow_missing:
        raise DiarefineError(f"{len(result.problems)} problem(s) in {src}; nothing written "
                             f"(--allow-missing writes the {len(result.recordings)} complete "
                             "recording(s))")
    if not result.recordings:
        raise DiarefineError(f"{src}: no complete recording")
    write_derived(result)
    write_manifest(output, result.recordings)
    if nemo_out is not None:
        from diarefine.data.corpora import write_nemo_manifest

        write_nemo_manifest(nemo_out, result.recordings)
    if lhotse_out is not None:
        from diarefine.data.lhotse import write_lhotse

        write_lhotse(lhotse_out, result.recordings)
    silent = [rec.uri for rec in result.recordings if rec.num_speakers == 0]
    if silent:
        more = " ..." if len(silent) > 5 else ""
        click.echo(f"note: {len(silent)} recording(s) without reference turns (in their "
                   f"scoring region), kept as silent: {', '.join(silent[:5])}{more}", err=True)
    click.echo(f"{output}: {len(result.recordings)} recording(s)"
               + (f", {len(result.problems)} left out" if result.problems else ""))
