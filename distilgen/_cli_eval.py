"""`distilgen generate`, `distilgen eval` and `distilgen walkthrough`.

`eval --min-accuracy` below the bar is a finding (exit 1: CI's gate closes); an endpoint or
function that fails outright is a failed operation (exit 2).
"""

from __future__ import annotations

import click

from . import api
from .contracts import RESPONSE_FORMATS, one_of
from ._cli_common import Progress, echo, exit_with, format_option, handle_errors
from .errors import UsageError


@click.command("generate")
@click.argument("target")
@click.option("-n", "n", type=int, default=100, show_default=True, help="How many distinct calls to capture.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Dataset file (default: [tool.distilgen] dataset).")
@click.option("--finetune-format", "finetune_format", type=click.Choice(["tools", "messages", "raw"]),
              help="Line format (default: [tool.distilgen] finetune-format).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same calls.")
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False),
              help="JSONL of argument sets to use first, then to mutate.")
@click.option("--strategies", help="'module:object': a dict of parameter or function name -> hypothesis strategy.")
@click.option("--timeout", type=float, help="Seconds per call; a slower call is skipped and counted.")
@click.option("--no-mutate", is_flag=True, help="With --inputs: draw fresh arguments instead of mutating the inputs.")
@format_option("text", "json", moved={f: "--finetune-format" for f in ("tools", "messages", "raw")})
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def generate_cmd(target: str, n: int, out: str | None, finetune_format: str | None, seed: int, inputs: str | None,
                 strategies: str | None, timeout: float | None, no_mutate: bool, fmt: str, quiet: bool) -> None:
    """Capture training calls of TARGET (module:qualname or path.py:qualname) on drawn arguments."""
    progress = Progress("calling", enabled=not quiet and fmt != "json")
    try:
        result = api.generate(target, n, out=out, finetune_format=finetune_format, seed=seed, inputs=inputs,
                              strategies=strategies, timeout=timeout, mutate=not no_mutate, progress=progress)
    finally:
        progress.close()
    echo(api.format_generate(result, fmt))


@click.command("eval")
@click.argument("target", required=False)
@click.option("--model", "model", help="The model to evaluate (e.g. ft:..., local:NAME).")
@click.option("--baseline", help="A second model side by side (e.g. the untrained base).")
@click.option("--dataset", type=click.Path(exists=True), help="Evaluate on this dataset's calls (any format).")
@click.option("--split", type=click.Choice(["train", "val"]), help="With --dataset: the part `distilgen dataset split` wrote.")
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False), help="JSONL of argument sets.")
@click.option("-n", "n", type=int, default=50, show_default=True, help="Fresh inputs to draw when no file is given.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--strategies", help="'module:object' strategies for fresh inputs (default: [tool.distilgen]).")
@click.option("--base-url", help="OpenAI-compatible endpoint of --model (default: env/config; local: models the local server).")
@click.option("--baseline-base-url", help="Endpoint of --baseline (default: --base-url).")
@click.option("--float-tolerance", "tolerance", type=float, default=0.0, show_default=True,
              help="Floats within this absolute difference count as equal.")
@click.option("--price-per-million", type=float, help="Price per million tokens (input, and output unless given).")
@click.option("--price-per-million-output", type=float, help="Price per million output tokens.")
@click.option("--max-retries", type=int, default=2, show_default=True, help="Re-asks after an invalid answer.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per request.")
@click.option("--response-format", type=click.Choice(["tools", "messages", "json_schema"]))
@click.option("--min-accuracy", type=float, help="Exit 1 when the exact-match rate is below this fraction.")
@click.option("--from-shadow", type=click.Path(exists=True, dir_okay=False), help="Score shadow-mode records instead.")
@click.option("--worst", type=int, default=10, show_default=True, help="Disagreements to keep per model.")
@format_option("text", "json")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def eval_cmd(target: str | None, model: str | None, baseline: str | None, dataset: str | None, split: str | None,
             inputs: str | None, n: int, seed: int, strategies: str | None, base_url: str | None,
             baseline_base_url: str | None, tolerance: float, price_per_million: float | None,
             price_per_million_output: float | None, max_retries: int, timeout: float, response_format: str | None,
             min_accuracy: float | None, from_shadow: str | None, worst: int, fmt: str, html_path: str | None,
             quiet: bool) -> None:
    """Score a model against the real function TARGET (module:qualname or path.py:qualname)."""
    if from_shadow:
        reports = api.evaluate_shadow(from_shadow, function_id=target, tolerance=tolerance, min_accuracy=min_accuracy)
    else:
        if not target or not model:
            raise UsageError("eval needs TARGET and --model (or --from-shadow FILE)")
        progress = Progress("evaluating", enabled=not quiet and fmt != "json")
        try:
            reports = [api.evaluate(
                target, model, baseline=baseline, dataset=dataset, split=split, inputs=inputs, n=n, seed=seed,
                strategies=strategies, base_url=base_url, baseline_base_url=baseline_base_url, tolerance=tolerance,
                price_per_million=price_per_million, price_per_million_output=price_per_million_output,
                max_retries=max_retries, timeout=timeout,
                response_format=one_of(response_format, RESPONSE_FORMATS), min_accuracy=min_accuracy, worst=worst, progress=progress)]
        finally:
            progress.close()
    echo(api.format_eval(reports, fmt))
    if html_path:
        from ._output import write_outputs

        write_outputs({html_path: api.eval_html(reports)}, option="--html")
        if fmt != "json":
            click.echo(f"HTML report: {html_path}")
    exit_with(not all(r.passed for r in reports))


@click.command("walkthrough")
@click.option("--quick", is_flag=True, help="Skip training; a loopback stand-in (not a trained model) answers.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where the copy goes (default: a new temp folder).")
@click.option("-n", "n", type=int, help="Training calls to generate (default 300; 80 with --quick).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-steps", type=int, help="Cap on optimizer steps (default 90).")
@handle_errors
def walkthrough_cmd(quick: bool, workdir: str | None, n: int | None, seed: int, train_steps: int | None) -> None:
    """Run the whole loop on a copy of sample_project/: scan, apply, generate, dataset, train, serve,
    apply --dispatch, check, run the app, eval, report."""
    result = api.walkthrough(workdir=workdir, quick=quick, n=n, seed=seed, train_steps=train_steps,
                             echo=lambda line: click.echo(line))
    click.echo(f"\nwalkthrough finished in {result.seconds:.0f}s; work folder: {result.workdir}")
