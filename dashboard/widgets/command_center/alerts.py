"""Pop-ups on the command center (the operator's page and the wall): a new report, an event crossing its deadline,
a grid turning 失管. Each refresh compares the candidates (layers.alerts) with those already known in this browser
session and hands the new ones to a small bundled component (alerts.js, st.components.v2, no iframe): one card at a
time for the pop-up setting's seconds with a count of those waiting, the grid pulsing on the map (inside the map's
iframe: the map is not sent again), the chime when the sound setting is on, and 签收 for the command center.

The first refresh after a page opens shows nothing: what was there before is not news.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

import streamlit as st

from dashboard.chime import URL as CHIME_URL
from dashboard.frame import PageContext
from dashboard.widgets.supervision import record_step
from layers.alerts import Alert, alert_candidates

HERE = Path(__file__).resolve().parent
SEEN_KEY = "cc_alerts_seen"
BATCH_KEY = "cc_alerts_batch"
MAX_SEEN = 20_000  # keys remembered per session (a day of a busy city); older ones are forgotten
_component = st.components.v2.component(
    "minqing_alerts", js=(HERE / "alerts.js").read_text(encoding="utf-8"),
    css=(HERE / "alerts.css").read_text(encoding="utf-8"),
)
ALERT_PAGE_CSS = """
<style>
[data-testid="stElementContainer"]:has(.mq-alerts-css) {display: none !important;}
.mq-alerts {position: fixed; z-index: 999990; top: 4.5rem; right: 1.5rem; width: 26rem; display: none;}
.mq-alerts.mq-on-wall {top: 12rem; right: 29%; width: 24rem;}
.mq-card {background: #111827; color: #f9fafb; border-left: 0.5rem solid #f59e0b; border-radius: 0.5rem;
  padding: 0.8rem 1rem; box-shadow: 0 0.5rem 1.5rem rgba(0,0,0,.45); font-size: 1rem; line-height: 1.45;
  animation: mqIn .35s ease-out;}
.mq-card.mq-overdue {border-left-color: #ef4444;} .mq-card.mq-neglect {border-left-color: #a855f7;}
.mq-card-head {display: flex; justify-content: space-between; font-weight: 700; font-size: 1.15rem;}
.mq-card-title {color: #fbbf24;} .mq-overdue .mq-card-title {color: #f87171;} .mq-neglect .mq-card-title {color: #c084fc;}
.mq-card-place {font-size: 1.1rem; margin-top: 0.3rem;} .mq-card-facts {color: #d1d5db;}
.mq-card-actions {display: flex; gap: 0.6rem; margin-top: 0.5rem; align-items: center;}
.mq-card-actions button, .mq-card-actions a {background: #374151; color: #f9fafb; border: 0; border-radius: 0.3rem;
  padding: 0.2rem 0.8rem; cursor: pointer; font-size: 0.95rem; text-decoration: none;}
.mq-card-actions .mq-sign {background: #f59e0b; color: #111827; font-weight: 700;}
.mq-card-actions .mq-close {margin-left: auto;}
.mq-count {color: #fbbf24; font-size: 0.9rem; margin-top: 0.3rem;}
.mq-sound {position: fixed; z-index: 999991; left: 1rem; bottom: 1rem; background: #f59e0b; color: #111827;
  border: 0; border-radius: 0.4rem; padding: 0.4rem 0.9rem; font-size: 1rem; cursor: pointer;}
@keyframes mqIn {from {transform: translateX(2rem); opacity: 0;} to {transform: none; opacity: 1;}}
</style>
<span class="mq-alerts-css"></span>
"""  # constant CSS, no data in it


def new_alerts(candidates: list[Alert], state: MutableMapping | None = None) -> list[Alert]:
    """The candidates not seen before in this session (none on the first call, which only remembers them)."""
    state = st.session_state if state is None else state
    keys = {a.key for a in candidates}
    seen = state.get(SEEN_KEY)
    if seen is None:
        state[SEEN_KEY] = keys
        return []
    fresh = [a for a in candidates if a.key not in seen]
    state[SEEN_KEY] = keys if len(seen) > MAX_SEEN else seen | keys
    return fresh


def alert_styles() -> None:
    """The cards' styles, once per page (outside the live fragments: a refresh does not send them again)."""
    st.markdown(ALERT_PAGE_CSS, unsafe_allow_html=True)


def alert_popups(ctx: PageContext, *, wall: bool = False) -> None:
    """Find the new pop-ups at the context's moment and hand them to the browser (draw inside `live`; the page
    draws `alert_styles` once)."""
    candidates = ctx.store.query(alert_candidates, as_of=ctx.as_of, neglect_days=ctx.neglect_days)
    fresh = new_alerts(candidates)
    if fresh:
        st.session_state[BATCH_KEY] = st.session_state.get(BATCH_KEY, 0) + 1
    batch = st.session_state.get(BATCH_KEY, 0)
    can_sign = ctx.principal.may_supervise and not wall
    result = _component(
        key="cc_alerts", height=0, width=1,
        data={"alerts": [a.as_data() for a in fresh], "batch": str(batch) if batch else "",
              "popup_ms": ctx.popup_seconds * 1000, "sound": ctx.sound, "sound_url": CHIME_URL, "wall": wall,
              "can_sign": can_sign},
        on_signed_change=lambda: None,
    )
    signed = getattr(result, "signed", None)
    if can_sign and isinstance(signed, str) and signed.partition(":")[0] in ("report", "overdue"):
        kind, _, event_id = signed.partition(":")
        record_step(ctx, "sign_for", event_id, result=kind)
