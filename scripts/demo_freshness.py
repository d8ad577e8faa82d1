"""The demo's last step: the freshness of each path it exercised, read from the EMF lines the
functions logged (serverless-offline writes their stdout into its log), as CloudWatch would."""

from __future__ import annotations

from scripts.demo_transcript import DemoState, Transcript
from scripts.emf import lag_figures, lag_line
from scripts.scenario import Scenario

# The paths the demo's steps run through serverless-offline (the backfill CLI reports in its summary).
EXERCISED = ("post_confirmation", "post_authentication", "attribute_sync")
EVENTS = "user events (row->bus)"


def step_12_freshness(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(
        12, "Freshness of what the demo did: MirrorFreshness and UserEventLag, read from the functions' EMF"
    )
    log = s.info.state_dir / "logs" / "serverless-offline.log"
    figures = lag_figures(log.read_text(errors="replace") if log.exists() else "")
    t.say(f"from {log}:")
    for label, values in figures.items():
        t.say(lag_line(label, values))
    if state.backfill_freshness:  # the CLI is no Lambda: step 5's summary carries its figure
        t.say(lag_line("backfill (its summary)", state.backfill_freshness))
    t.check("each path the demo exercised reported its freshness", all(p in figures for p in EXERCISED))
    t.check("published events reported their lag", EVENTS in figures)
