"""The lead-trader statistics of SPEC §9, each written down once. Pure: no Django, no I/O.

Inputs are plain sequences: a base equity and one ``(equity, transfers_in, transfers_out)``
triple per UTC day, oldest first (a period's days; the base is the equity at the end of the day
before the first, 0 when the account did not exist yet). Amounts are Decimals; ``transfers_in``
and ``transfers_out`` are both >= 0. Results are exact (``Fraction``) where the definition is
rational, so that a hand-computed 10% is exactly 1/10; callers round once, through
apps/core/money.py. Unknown is ``None``, never 0.

For day t with previous equity E[t-1], equity E[t], money moved in I[t] and out O[t]
(F[t] = I[t] - O[t], the day's net transfer):

- daily PnL        p[t] = E[t] - E[t-1] - F[t]
- capital          C[t] = E[t-1] + I[t]            (what was at stake during the day)
- daily return     r[t] = p[t] / C[t]  =  (E[t] + O[t]) / (E[t-1] + I[t]) - 1
                   undefined (the day is skipped) when C[t] <= 0: nothing was at stake.
  Convention: money moved in counts from the start of the day, money moved out until its end.
  The capital is then the most the owner ever had at stake that day, so a transfer's timing
  can only understate a return, never inflate it (a deposit at 23:59 dilutes the day, a
  withdrawal at 00:01 too), and r[t] >= -1 always. Assuming the whole net transfer at the
  start (C = E[t-1] + F[t]) breaks on a gain followed by a withdrawal of everything the same
  day: 100 -> +10 -> withdraw 110 gives C = -10 and r = -100%.
- ROI (time-weighted, transfers excluded)  = prod(1 + r[t]) - 1 over the days with a return;
  None when there is none.
- PnL              = sum of p[t]  ( = E[last] - base - sum F ); None without days.
- return index     X[0] = 1, X[t] = X[t-1] x (1 + r[t]) (a skipped day keeps X).
- max drawdown     = max over t of (1 - X[t] / max(X[0..t])), a fraction >= 0 (0.25: the
  index fell 25% below its best): drawdown of the return index, not of equity, so a
  withdrawal is not a loss. None without a return day; 0 when it never fell.
- Sharpe           = mean(r) / stdev(r) x sqrt(365), risk-free rate 0, stdev the sample
  standard deviation (n - 1); None with fewer than 2 returns or a zero deviation (a flat
  series has no defined Sharpe). Irrational, so computed with 60 significant digits.
- win rate         = wins / closed over the lead sub-positions closed in the period; a win is
  a closed sub-position whose net PnL (realized - fees + funding) is > 0. None when none closed.
- trades per week  = sub-positions opened in the period / (days / 7), ``days`` the days of the
  period the lead existed. None when days = 0.
- average holding  = total holding time of the sub-positions closed in the period / their
  number (seconds). None when none closed.
- median           = the middle value, or the mean of the two middle ones. None when empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from typing import NamedTuple

ZERO = Decimal(0)
DAYS_PER_YEAR = 365
SHARPE_PRECISION = 60


class Day(NamedTuple):
    """One UTC day of an account: its equity at the day's end and the money moved in and out
    during the day (both >= 0)."""

    equity: Decimal
    transfers_in: Decimal = ZERO
    transfers_out: Decimal = ZERO


def _days(days: Iterable[Sequence[Decimal]]) -> list[Day]:
    return [d if isinstance(d, Day) else Day(*d) for d in days]


def daily_pnl(previous_equity: Decimal, day: Sequence[Decimal]) -> Decimal:
    """p = E[t] - E[t-1] - (I[t] - O[t])."""
    e, i, o = Day(*day)
    return e - previous_equity - (i - o)


def growth_factor(previous_equity: Decimal, day: Sequence[Decimal]) -> Fraction | None:
    """1 + r = (E[t] + O[t]) / (E[t-1] + I[t]), or None when nothing was at stake."""
    e, i, o = Day(*day)
    capital = previous_equity + i
    if capital <= 0:
        return None
    return Fraction(e + o) / Fraction(capital)


def daily_return(previous_equity: Decimal, day: Sequence[Decimal]) -> Fraction | None:
    """r = (E[t] + O[t]) / (E[t-1] + I[t]) - 1, or None when nothing was at stake."""
    g = growth_factor(previous_equity, day)
    return None if g is None else g - 1


def growth_factors(base: Decimal, days: Iterable[Sequence[Decimal]]) -> list[Fraction | None]:
    out, previous = [], base
    for day in _days(days):
        out.append(growth_factor(previous, day))
        previous = day.equity
    return out


def daily_returns(base: Decimal, days: Iterable[Sequence[Decimal]]) -> list[Fraction | None]:
    return [None if g is None else g - 1 for g in growth_factors(base, days)]


def daily_pnls(base: Decimal, days: Iterable[Sequence[Decimal]]) -> list[Decimal]:
    out, previous = [], base
    for day in _days(days):
        out.append(daily_pnl(previous, day))
        previous = day.equity
    return out


def return_index(base: Decimal, days: Iterable[Sequence[Decimal]]) -> list[Fraction]:
    """X[t] for each day (X[0] = 1 before the first day is not included)."""
    index, out = Fraction(1), []
    for g in growth_factors(base, days):
        if g is not None:
            index *= g
        out.append(index)
    return out


def pnl(base: Decimal, days: Iterable[Sequence[Decimal]]) -> Decimal | None:
    pnls = daily_pnls(base, days)
    if not pnls:
        return None
    return sum(pnls, ZERO)


# The three below take a period's days; the ``*_of`` forms take its growth factors (1 + r,
# None for a day without capital), so a caller computing several stats of one period
# computes the factors once.
def roi(base: Decimal, days: Iterable[Sequence[Decimal]]) -> Fraction | None:
    return roi_of(growth_factors(base, days))


def max_drawdown(base: Decimal, days: Iterable[Sequence[Decimal]]) -> Fraction | None:
    return max_drawdown_of(growth_factors(base, days))


def sharpe(base: Decimal, days: Iterable[Sequence[Decimal]]) -> Decimal | None:
    return sharpe_of(growth_factors(base, days))


def roi_of(factors: Iterable[Fraction | None]) -> Fraction | None:
    known = [g for g in factors if g is not None]
    if not known:
        return None
    growth = Fraction(1)
    for g in known:
        growth *= g
    return growth - 1


def max_drawdown_of(factors: Iterable[Fraction | None]) -> Fraction | None:
    known = [g for g in factors if g is not None]
    if not known:
        return None
    index = peak = Fraction(1)
    worst = Fraction(0)
    for g in known:
        index *= g
        if index > peak:
            peak = index
        elif index < peak:
            worst = max(worst, 1 - index / peak)
    return worst


def sharpe_of(factors: Iterable[Fraction | None]) -> Decimal | None:
    """In a 60-digit Decimal context: the result is irrational (a square root), so exact
    fractions would only cost time; 60 digits keep it right far past the 8 places shown."""
    known = [g for g in factors if g is not None]
    n = len(known)
    if n < 2 or len(set(known)) == 1:  # (exactly) no deviation
        return None
    with localcontext(Context(prec=SHARPE_PRECISION)):
        returns = [Decimal(g.numerator) / Decimal(g.denominator) - 1 for g in known]
        mean = sum(returns, ZERO) / n
        variance = sum(((r - mean) ** 2 for r in returns), ZERO) / (n - 1)
        if variance == 0:
            return None
        return mean / variance.sqrt() * Decimal(DAYS_PER_YEAR).sqrt()


def net_pnl(realized_pnl: Decimal, fees: Decimal, funding: Decimal) -> Decimal:
    """A sub-position's net PnL: realized - fees + funding (exact)."""
    return realized_pnl - fees + funding


def is_win(realized_pnl: Decimal, fees: Decimal, funding: Decimal) -> bool:
    """A closed sub-position is a win when its net PnL, realized - fees + funding, is > 0."""
    return net_pnl(realized_pnl, fees, funding) > 0


def win_rate(wins: int, closed: int) -> Fraction | None:
    if closed <= 0:
        return None
    return Fraction(wins, closed)


def trades_per_week(opens: int, days: int) -> Fraction | None:
    if days <= 0:
        return None
    return Fraction(opens * 7, days)


def average_holding_seconds(total_seconds: int, closed: int) -> Fraction | None:
    if closed <= 0:
        return None
    return Fraction(total_seconds, closed)


def median(values: Iterable[Fraction | Decimal]) -> Fraction | None:
    ordered = sorted(Fraction(v) for v in values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
