"""Every stats formula against a series computed by hand (written out beside each test), not
against the code's own formula. Results are exact fractions: 10% is exactly 1/10.

The series used most (base equity 1,000):

| day | equity | in    | out | capital E[t-1]+I | r = (E+O)/capital - 1 | p = E - E[t-1] - (I-O) | index  |
|-----|--------|-------|-----|------------------|-----------------------|------------------------|--------|
| 1   | 1100   |       |     | 1000             | 1100/1000 - 1 = 0.10  | 100                    | 1.1    |
| 2   | 990    |       |     | 1100             | 990/1100 - 1 = -0.10  | -110 (a losing day)    | 0.99   |
| 3   | 2100   | 1010  |     | 990+1010 = 2000  | 2100/2000 - 1 = 0.05  | 2100-990-1010 = 100    | 1.0395 |
| 4   | 1458   |       | 600 | 2100             | 2058/2100 - 1 = -0.02 | 1458-2100+600 = -42    | 1.01871|
| 5   | 1458   |       |     | 1458             | 0 (flat)              | 0                      | 1.01871|

Day 3 is a deposit in the middle of the period, day 4 a withdrawal of 600: equity falls 30%
that day but the return is -2%, and the drawdown ignores the withdrawal.
"""

from datetime import timedelta
from decimal import Decimal as D
from fractions import Fraction as Q

from apps.stats import formulas as f

BASE = D("1000")
SERIES = [
    (D("1100"), D("0"), D("0")),
    (D("990"), D("0"), D("0")),
    (D("2100"), D("1010"), D("0")),
    (D("1458"), D("0"), D("600")),
    (D("1458"), D("0"), D("0")),
]


def test_daily_returns_exclude_transfers():
    assert f.daily_returns(BASE, SERIES) == [
        Q("0.1"),
        Q("-0.1"),
        Q("0.05"),
        Q("-0.02"),
        Q(0),
    ]


def test_daily_pnl_excludes_transfers():
    assert f.daily_pnls(BASE, SERIES) == [D("100"), D("-110"), D("100"), D("-42"), D("0")]


def test_roi_is_time_weighted():
    # 1.1 x 0.9 x 1.05 x 0.98 x 1 = 1.01871 -> ROI 0.01871 (the money-weighted view would
    # see 458 of equity gain on 1,000 + 410 of net deposits instead)
    assert f.roi(BASE, SERIES) == Q("0.01871")


def test_pnl_is_the_sum_of_daily_pnl():
    # 100 - 110 + 100 - 42 + 0 = 48 = 1458 - 1000 - (1010 - 600)
    assert f.pnl(BASE, SERIES) == D("48")


def test_return_index():
    assert f.return_index(BASE, SERIES) == [
        Q("1.1"),
        Q("0.99"),
        Q("1.0395"),
        Q("1.01871"),
        Q("1.01871"),
    ]


def test_max_drawdown_is_of_the_return_index_not_of_equity():
    # peak 1.1 after day 1; day 2: 1 - 0.99/1.1 = 0.10; day 3: 1 - 1.0395/1.1 = 0.055;
    # day 4: 1 - 1.01871/1.1 = 0.0739. The 600 withdrawal (equity 2100 -> 1458) is no drawdown.
    assert f.max_drawdown(BASE, SERIES) == Q("0.1")


def test_sharpe_of_daily_returns():
    # r = 0.10, -0.10, 0.05, -0.02, 0: mean 0.03/5 = 0.006
    # deviations 0.094, -0.106, 0.044, -0.026, -0.006; squares sum 0.02272; sample variance
    # 0.02272/4 = 0.00568; Sharpe = 0.006 / sqrt(0.00568) x sqrt(365) = sqrt(0.000036 x 365 /
    # 0.00568) = sqrt(2.31338028...) = 1.52098003987...
    value = f.sharpe(BASE, SERIES)
    assert D("1.52098003") < value < D("1.52098004")
    assert str(value).startswith("1.5209800398723649")


def test_sharpe_is_negative_when_the_mean_is():
    # r = -0.1, 0: mean -0.05, sample variance (0.05^2 x 2)/1 = 0.005
    # Sharpe = -0.05 / sqrt(0.005) x sqrt(365) = -sqrt(0.0025 x 365 / 0.005) = -sqrt(182.5)
    value = f.sharpe(D("100"), [(D("90"), 0, 0), (D("90"), 0, 0)])
    # 13.50925608^2 = 182.4999998 < 182.5 < 13.50925609^2 = 182.5000001
    assert D("-13.50925609") < value < D("-13.50925608")


def test_flat_period():
    flat = [(D("500"), D("0"), D("0"))] * 3
    assert f.roi(D("500"), flat) == 0
    assert f.pnl(D("500"), flat) == 0
    assert f.max_drawdown(D("500"), flat) == 0
    assert f.sharpe(D("500"), flat) is None  # zero deviation: undefined, not 0


def test_first_day_of_an_account():
    # no equity before; 1,000 moved in and traded to 1,050 the same day: r = 1050/1000 - 1
    assert f.daily_returns(D("0"), [(D("1050"), D("1000"), D("0"))]) == [Q("0.05")]
    assert f.roi(D("0"), [(D("1000"), D("1000"), D("0"))]) == 0


def test_a_gain_then_withdrawing_everything_the_same_day():
    # 100 at the start, +10 during the day, then all 110 withdrawn: capital 100 (out counts
    # until the day's end), r = (0 + 110)/100 - 1 = +10%, PnL = 0 - 100 + 110 = 10
    assert f.daily_returns(D("100"), [(D("0"), D("0"), D("110"))]) == [Q("0.1")]
    assert f.pnl(D("100"), [(D("0"), D("0"), D("110"))]) == D("10")


def test_days_without_capital_have_no_return():
    assert f.daily_returns(D("0"), [(D("0"), D("0"), D("0"))]) == [None]
    assert f.roi(D("0"), [(D("0"), D("0"), D("0"))]) is None
    assert f.max_drawdown(D("0"), [(D("0"), D("0"), D("0"))]) is None
    assert f.pnl(D("0"), []) is None
    assert f.roi(D("0"), []) is None


def test_losing_everything():
    assert f.roi(D("100"), [(D("0"), 0, 0)]) == -1
    assert f.max_drawdown(D("100"), [(D("0"), 0, 0)]) == 1


def test_sharpe_needs_two_returns():
    assert f.sharpe(BASE, SERIES[:1]) is None


def test_win_rate():
    # nets 10, -5, 0, 3.5: a zero net is not a win -> 2 of 4
    nets = [(D("12"), D("2"), D("0")), (D("-4"), D("1"), D("0")), (D("1"), D("1.5"), D("0.5")),
            (D("4"), D("0.6"), D("0.1"))]  # fmt: skip
    wins = sum(f.is_win(*n) for n in nets)
    assert wins == 2
    assert f.win_rate(wins, len(nets)) == Q(1, 2)
    assert f.win_rate(0, 0) is None


def test_trades_per_week():
    assert f.trades_per_week(9, 30) == Q("2.1")  # 9 opens in 30 days = 9 / (30/7)
    assert f.trades_per_week(3, 0) is None


def test_average_holding_time():
    total = (timedelta(hours=1) + timedelta(hours=2) + timedelta(minutes=30)).total_seconds()
    assert f.average_holding_seconds(int(total), 3) == 4200  # 12,600 s / 3
    assert f.average_holding_seconds(0, 0) is None


def test_median():
    assert f.median([Q("0.03"), Q("-0.01"), Q("0.02")]) == Q("0.02")
    assert f.median([Q("0.01"), Q("0.04"), Q("-0.02"), Q("0.03")]) == Q("0.02")  # (0.01+0.03)/2
    assert f.median([]) is None
