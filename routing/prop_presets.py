"""Prop-firm rule presets: one click fills an account's risk limits form with
a firm's published figures for an account size (the trader reviews and saves;
nothing is saved by choosing a preset).

Compiled on 2026-12-04 from the firms' public rule pages and from
third-party summaries of them dated February to May 2026. **Firms change
their rules often** (Apex rebuilt its whole line on 2026-03-01): check the
firm's current rules for your account before you trade it; a figure marked
*unsure* below could not be confirmed for 2026 and says so on the page too.

How a firm's rule maps onto Copytrade's limits
(:class:`routing.engine.limits.RiskLimits`, :class:`~routing.engine.limits.DrawdownMode`):

* daily loss limit -> ``daily_loss`` (dollars, realized + unrealized per CME
  session; entries stop, positions stay open unless *flatten on breach*);
  ``None``: the firm has none, and the preset empties the field;
* maximum / trailing drawdown -> ``max_drawdown`` with ``drawdown_mode``:
  Topstep's Maximum Loss Limit trails the end-of-day balance and stops at
  the starting balance (``trailing_eod``, modelled exactly); Apex's intraday
  trailing threshold follows equity including open profit and stops at the
  starting balance + $100 (``trailing_intraday``; Copytrade stops it at the
  starting balance, so once it stops the floor here is $100 lower than
  Apex's: keep that margin yourself). The floor is measured from the
  account's *starting balance*, an account setting, not a limit;
* maximum position size -> ``max_position`` (contracts per position). The
  firms count a micro as a tenth of a mini across all positions; Copytrade
  counts contracts as they are, per contract: the preset holds the firm's
  figure in minis (raise it tenfold when you trade micros);
* profit target and consistency -> ``profit_target`` with
  ``consistency_pct`` is Copytrade's *consistency lock* (entries stop once a
  session's realized profit exceeds that share of the target). It is set
  only where the evaluation has a consistency rule: Topstep's Combine
  requires the best day to be under 50% of the total profit, so 50% of the
  target is where a day would start to break it. Where the evaluation has
  none (Apex), ``profit_target`` is emptied: setting it would lock entries
  at 30% of the target, a rule the firm does not have. The target itself is
  shown with the preset, for reference.

Sources:

* Topstep Trading Combine (50K / 100K / 150K): profit target $3,000 /
  $6,000 / $9,000; Maximum Loss Limit $2,000 / $3,000 / $4,500, trailing the
  end-of-day balance high; Daily Loss Limit $1,000 / $2,000 / $3,000;
  maximum position size 5 / 10 / 15 contracts; Consistency Target: best day
  under 50% of total profit. topstep.com Trading Combine rules and
  help.topstep.com ("Trading Combine parameters", "What is the Consistency
  Target?"); the 50% share and the end-of-day trail as summarised for 2026
  (proptradingvibes.com, February 2026). The Daily Loss Limit does *not*
  apply to Combines opened on TopstepX since 2024-08-25
  (help.topstep.com/en/articles/9772296, "TopstepX Fixed Personal Daily
  Loss Limit"); it still applies on NinjaTrader, Tradovate, Quantower and
  other platforms. The preset keeps it (the stricter choice): clear it for a
  TopstepX Combine if you want none.
* Apex Trader Funding evaluation, *intraday trailing* accounts, the model
  offered since 2026-03-01 ("4.0") beside an end-of-day one: no daily loss
  limit and no consistency rule in the evaluation (the 50% consistency
  applies to Performance Account payouts), 50K profit target $3,000 and
  trailing drawdown $2,500 (puravidaedge.com, verified May 2026;
  propfirmescape.com and damnpropfirms.com, 2026). 100K: $6,000 / $3,000 and
  150K: $9,000 / $5,000, and the maximum contracts 10 / 14 / 17, are the
  figures Apex published before 2026-03-01 (apextraderfunding.com
  evaluation rules): *unsure* whether the 4.0 accounts kept them. No preset
  is given for Apex's end-of-day accounts: they add a daily loss limit whose
  amounts per size could not be confirmed.

Pure: no Django, no I/O. Money is ``Decimal`` dollars, positions whole contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from routing.engine.limits import DrawdownMode, RiskLimits, limit_names

COMPILED_ON = "2026-12-04"
# The limits a preset may set; every preset sets the first five (None empties
# a field) and consistency_pct only with a consistency rule.
PRESET_FIELDS = (
    "daily_loss",
    "max_drawdown",
    "drawdown_mode",
    "max_position",
    "profit_target",
    "consistency_pct",
)


@dataclass(frozen=True, slots=True)
class PropPreset:
    """One firm's account size: ``limits`` maps limit names (of
    :data:`PRESET_FIELDS`) to the value the preset fills, ``None`` emptying
    the field; ``account_size`` the starting balance the firm measures the
    drawdown from; ``firm_target`` the evaluation's profit target (shown
    for reference, whether or not a limit uses it); ``notes`` the caveats
    shown with it."""

    key: str
    firm: str
    label: str
    account_size: Decimal
    firm_target: Decimal
    limits: Mapping[str, Any]
    notes: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = set(self.limits) - set(PRESET_FIELDS)
        if unknown:
            raise ValueError(f"{self.key}: not preset fields: {', '.join(sorted(unknown))}")
        # The engine refuses what it could never use (a value <= 0 and so on).
        RiskLimits(**{k: v for k, v in self.limits.items() if v is not None})


_TOPSTEP_NOTES = (
    "Daily loss limit: Topstep's objective on NinjaTrader, Tradovate and other platforms; "
    "Combines opened on TopstepX since 2024-08-25 have none (clear it if you want none).",
    "Maximum Loss Limit trails the end-of-day balance high and stops at the starting balance.",
    "Max position counts minis: Topstep allows 10 micros per mini; Copytrade counts contracts "
    "as they are, so raise it tenfold for micros.",
    "Consistency: the Combine wants the best day under 50% of the total profit; the lock stops "
    "entries once a session's realized profit passes 50% of the target.",
)
_APEX_NOTES = (
    "Intraday trailing account: the threshold follows equity including open profit. Apex stops "
    "it at the starting balance + $100, Copytrade at the starting balance.",
    "No daily loss limit and no consistency rule in the evaluation: both are emptied here "
    "(the profit target shown is to pass, not a Copytrade limit).",
    "Max contracts counts minis (10 micros = 1 mini at Apex); raise it tenfold for micros.",
)
_APEX_UNSURE_CONTRACTS = (
    "Unsure: the max contracts is Apex's figure from before 2026-03-01; check the current rules.",
)
_APEX_UNSURE_ALL = (
    "Unsure: the target, drawdown and max contracts are Apex's figures from before 2026-03-01; "
    "check the current rules for this size.",
)


def _topstep(size: int, target: int, drawdown: int, daily: int, contracts: int) -> PropPreset:
    return PropPreset(
        key=f"topstep-{size}k",
        firm="Topstep",
        label=f"Topstep {size}K Trading Combine",
        account_size=Decimal(size * 1000),
        firm_target=Decimal(target),
        limits={
            "daily_loss": Decimal(daily),
            "max_drawdown": Decimal(drawdown),
            "drawdown_mode": DrawdownMode.TRAILING_EOD.value,
            "max_position": contracts,
            "profit_target": Decimal(target),
            "consistency_pct": Decimal(50),
        },
        notes=_TOPSTEP_NOTES,
    )


def _apex(
    size: int, target: int, drawdown: int, contracts: int, *, unsure: tuple[str, ...]
) -> PropPreset:
    return PropPreset(
        key=f"apex-{size}k",
        firm="Apex Trader Funding",
        label=f"Apex {size}K evaluation (intraday trailing)",
        account_size=Decimal(size * 1000),
        firm_target=Decimal(target),
        limits={
            "daily_loss": None,
            "max_drawdown": Decimal(drawdown),
            "drawdown_mode": DrawdownMode.TRAILING_INTRADAY.value,
            "max_position": contracts,
            "profit_target": None,
        },
        notes=_APEX_NOTES + unsure,
    )


PRESETS: tuple[PropPreset, ...] = (
    _topstep(50, target=3_000, drawdown=2_000, daily=1_000, contracts=5),
    _topstep(100, target=6_000, drawdown=3_000, daily=2_000, contracts=10),
    _topstep(150, target=9_000, drawdown=4_500, daily=3_000, contracts=15),
    # 50K's target and drawdown were confirmed for 2026; its 10 contracts were not.
    _apex(50, target=3_000, drawdown=2_500, contracts=10, unsure=_APEX_UNSURE_CONTRACTS),
    _apex(100, target=6_000, drawdown=3_000, contracts=14, unsure=_APEX_UNSURE_ALL),
    _apex(150, target=9_000, drawdown=5_000, contracts=17, unsure=_APEX_UNSURE_ALL),
)
_BY_KEY = {preset.key: preset for preset in PRESETS}
if len(_BY_KEY) != len(PRESETS) or not set(PRESET_FIELDS) <= set(limit_names()):
    raise RuntimeError("prop presets: duplicate keys or fields that are no risk limit")


def preset_get(key: str) -> PropPreset | None:
    """The preset named ``key`` (``"topstep-50k"``), or ``None``."""
    return _BY_KEY.get(key)


def preset_form_values(preset: PropPreset) -> dict[str, str]:
    """The preset as the limits form's inputs take it: field name -> text
    (``""`` empties a field; money and percents without trailing zeros)."""
    values = {}
    for name, value in preset.limits.items():
        if value is None:
            values[name] = ""
        elif isinstance(value, Decimal):
            values[name] = format(value.normalize(), "f")
        else:
            values[name] = str(value)
    return values
