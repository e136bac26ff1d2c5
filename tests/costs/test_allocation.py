"""Allocation of a day's cost and month rounding (issue 9, §4): a worked
example for each rule, and properties on random days: lines plus idle equal
the cost exactly, month lines add up to the rounded month cost, no line is
negative unless the cost is, and rounding moves a line by less than a cent."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costs.allocation import CENT, DayAllocation, IdlePolicy, allocate_day, round_month
from costs.pricing import EXACT_CONTEXT

D = Decimal
Key = tuple[str | None, str]

A = ("CC-4100", "usage")
B = ("CC-4200", "usage")
A_SHADOW = ("CC-4100", "shadow")
UNMAPPED: Key = (None, "unmapped")
IDLE = ("CC-PLAT", "idle")
# 1,000 tokens/s of capacity: K = 86,400,000 tokens a day.
CAPACITY = D(1000)
HALF_DAY_OF_TOKENS = D(43_200_000)


def tie(key: Key) -> tuple[str, str]:
    """What the service passes: cost center code (unmapped as ""), then kind."""
    return (key[0] or "", key[1])


def exact_sum(values: list[Decimal]) -> Decimal:
    with localcontext(EXACT_CONTEXT):
        return sum(values, D(0))


# ---------------------------------------------------------------- allocate_day


def test_share_without_capacity_splits_the_whole_cost_by_usage() -> None:
    day = allocate_day(
        cost=D(100),
        usage={A: D(300), B: D(700)},
        total_tokens=D(1000),
        capacity_tokens_per_second=None,
        idle_policy="share",
    )
    assert day.lines == {A: D(30), B: D(70)}
    assert day.idle == 0
    assert day.utilization == 1


def test_platform_policy_with_capacity_keeps_idle_apart() -> None:
    # T / K = 0.5: half the cost is used, half idle.
    day = allocate_day(
        cost=D(100),
        usage={A: D(300), B: D(700)},
        total_tokens=HALF_DAY_OF_TOKENS,
        capacity_tokens_per_second=CAPACITY,
        idle_policy="platform",
    )
    assert day.utilization == D("0.5")
    assert day.lines == {A: D(15), B: D(35)}
    assert day.idle == D(50)


def test_share_policy_with_capacity_adds_idle_to_the_lines() -> None:
    day = allocate_day(
        cost=D(100),
        usage={A: D(300), B: D(700)},
        total_tokens=HALF_DAY_OF_TOKENS,
        capacity_tokens_per_second=CAPACITY,
        idle_policy="share",
    )
    assert day.utilization == D("0.5")
    assert day.lines == {A: D(30), B: D(70)}
    assert day.idle == 0


def test_utilization_is_capped_at_one_above_capacity() -> None:
    day = allocate_day(
        cost=D(100),
        usage={A: D(1), B: D(3)},
        total_tokens=D(200_000_000),  # more than K = 86,400,000
        capacity_tokens_per_second=CAPACITY,
        idle_policy="platform",
    )
    assert day.utilization == 1
    assert day.idle == 0
    assert day.lines == {A: D(25), B: D(75)}


def test_exactly_at_capacity_is_full_utilization() -> None:
    day = allocate_day(
        cost=D(10),
        usage={A: D(1)},
        total_tokens=D(86_400_000),
        capacity_tokens_per_second=CAPACITY,
        idle_policy="platform",
    )
    assert day.utilization == 1
    assert day.idle == 0


@pytest.mark.parametrize("policy", ["share", "platform"])
def test_day_without_usage_leaves_the_whole_cost_idle(policy: IdlePolicy) -> None:
    day = allocate_day(
        cost=D("123.45"),
        usage={A: D(0), UNMAPPED: D(0)},
        total_tokens=D(0),
        capacity_tokens_per_second=CAPACITY,
        idle_policy=policy,
    )
    assert day.utilization == 0
    assert day.idle == D("123.45")
    assert day.lines == {A: 0, UNMAPPED: 0}


def test_day_without_any_usage_rows_is_all_idle() -> None:
    day: DayAllocation[Key] = allocate_day(
        cost=D(5),
        usage={},
        total_tokens=D(0),
        capacity_tokens_per_second=None,
        idle_policy="share",
    )
    assert day.lines == {}
    assert day.idle == 5
    assert day.utilization == 0


def test_unmapped_and_shadow_usage_get_their_own_lines() -> None:
    day = allocate_day(
        cost=D(90),
        usage={A: D(10), A_SHADOW: D(20), UNMAPPED: D(30), B: D(0)},
        total_tokens=D(60),
        capacity_tokens_per_second=None,
        idle_policy="platform",
    )
    assert day.lines == {A: D(15), A_SHADOW: D(30), UNMAPPED: D(45), B: D(0)}
    assert day.idle == 0


def test_request_basis_splits_by_requests_while_tokens_set_utilization() -> None:
    # Basis: requests (A 1, B 3); T: a quarter of capacity.
    day = allocate_day(
        cost=D(80),
        usage={A: D(1), B: D(3)},
        total_tokens=D(21_600_000),
        capacity_tokens_per_second=CAPACITY,
        idle_policy="platform",
    )
    assert day.utilization == D("0.25")
    assert day.lines == {A: D(5), B: D(15)}
    assert day.idle == D(60)


def test_usage_without_tokens_is_all_idle_under_platform_policy() -> None:
    day = allocate_day(
        cost=D(40),
        usage={A: D(4)},  # requests, but no tokens against the capacity
        total_tokens=D(0),
        capacity_tokens_per_second=CAPACITY,
        idle_policy="platform",
    )
    assert day.utilization == 0
    assert day.lines == {A: D(0)}
    assert day.idle == D(40)


def test_thirds_add_up_exactly_and_the_extra_digit_goes_by_tie_key() -> None:
    usage = {B: D(1), UNMAPPED: D(1), A: D(1)}
    day = allocate_day(
        cost=D(1),
        usage=usage,
        total_tokens=D(3),
        capacity_tokens_per_second=None,
        idle_policy="share",
        tie_key=tie,
    )
    third = D("0.33333333333333333333")
    assert day.lines == {UNMAPPED: third + D("1e-20"), A: third, B: third}
    assert exact_sum(list(day.lines.values())) + day.idle == 1


def test_tie_key_makes_the_day_independent_of_the_order_usage_was_read_in() -> None:
    keys = [A, B, A_SHADOW, UNMAPPED, ("CC-0001", "usage"), ("CC-9", "shadow")]
    results = set()
    for seed in range(20):
        shuffled = keys[:]
        random.Random(seed).shuffle(shuffled)
        day = allocate_day(
            cost=D("1.00"),
            usage={key: D(7) for key in shuffled},
            total_tokens=D(42),
            capacity_tokens_per_second=D("0.001"),
            idle_policy="platform",
            tie_key=tie,
        )
        results.add((tuple(sorted(day.lines.items(), key=lambda kv: tie(kv[0]))), day.idle))
    assert len(results) == 1


def test_credit_day_gives_lines_that_are_not_positive() -> None:
    day = allocate_day(
        cost=D("-10"),
        usage={A: D(1), B: D(2)},
        total_tokens=HALF_DAY_OF_TOKENS,
        capacity_tokens_per_second=CAPACITY,
        idle_policy="platform",
        tie_key=tie,
    )
    assert day.idle == D(-5)
    assert all(amount <= 0 for amount in day.lines.values())
    assert exact_sum(list(day.lines.values())) + day.idle == D(-10)
    assert abs(day.lines[A] - D(-5) / 3) < D("1e-20")


def test_a_cost_with_more_than_twenty_places_is_split_without_rounding_it() -> None:
    cost = D(1) / D(7)  # 28 significant digits
    day = allocate_day(
        cost=cost,
        usage={A: D(1), B: D(2)},
        total_tokens=D(3),
        capacity_tokens_per_second=None,
        idle_policy="share",
    )
    assert exact_sum([*day.lines.values(), day.idle]) == cost
    assert day.lines[A].as_tuple().exponent == cost.as_tuple().exponent


def test_places_sets_the_scale_of_the_lines() -> None:
    day = allocate_day(
        cost=D("10.00"),
        usage={A: D(1), B: D(1), UNMAPPED: D(1)},
        total_tokens=D(3),
        capacity_tokens_per_second=None,
        idle_policy="share",
        tie_key=tie,
        places=2,
    )
    assert day.lines == {UNMAPPED: D("3.34"), A: D("3.33"), B: D("3.33")}


def test_utilization_keeps_forty_significant_digits() -> None:
    day = allocate_day(
        cost=D(1),
        usage={A: D(1)},
        total_tokens=D(1),
        capacity_tokens_per_second=D(3),  # rho = 1 / 259,200
        idle_policy="platform",
    )
    assert abs(Fraction(day.utilization) - Fraction(1, 259_200)) < Fraction(1, 10**45)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"usage": {A: D(-1)}}, "usage"),
        ({"capacity_tokens_per_second": D(0)}, "capacity_tokens_per_second"),
        ({"total_tokens": D(-1)}, "total_tokens"),
        ({"idle_policy": "teams"}, "idle_policy"),
        ({"cost": D("NaN")}, "cost"),
        ({"places": -1}, "places"),
    ],
)
def test_rejects_bad_inputs_naming_them(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {
        "cost": D(1),
        "usage": {A: D(1)},
        "total_tokens": D(1),
        "capacity_tokens_per_second": None,
        "idle_policy": "share",
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        allocate_day(**arguments)  # type: ignore[arg-type]


def test_refuses_float_cost() -> None:
    with pytest.raises(TypeError, match="cost"):
        allocate_day(
            cost=1.5,  # type: ignore[arg-type]
            usage={A: D(1)},
            total_tokens=D(1),
            capacity_tokens_per_second=None,
            idle_policy="share",
        )


# ----------------------------------------------------------------- round_month


def test_month_cost_rounds_half_even() -> None:
    assert round_month(day_total=D("0.125"), lines={A: D("0.125")}, tie_key=tie)[0] == D("0.12")
    assert round_month(day_total=D("0.135"), lines={A: D("0.135")}, tie_key=tie)[0] == D("0.14")
    assert round_month(day_total=D("-0.125"), lines={A: D("-0.125")}, tie_key=tie)[0] == D("-0.12")


def test_largest_remainder_takes_the_missing_cent() -> None:
    total, lines = round_month(
        day_total=D("1.000"),
        lines={A: D("0.334"), B: D("0.331"), UNMAPPED: D("0.335")},
        tie_key=tie,
    )
    assert total == D("1.00")
    assert lines == {UNMAPPED: D("0.34"), A: D("0.33"), B: D("0.33")}


def test_equal_remainders_go_by_cost_center_code() -> None:
    total, lines = round_month(
        day_total=D(1),
        lines={B: D("0.3335"), ("CC-0999", "usage"): D("0.3330"), A: D("0.3335")},
        tie_key=tie,
    )
    assert total == D("1.00")
    # B and A tie for the largest remainder; CC-0999 sorts first but its
    # remainder is smaller, so the code only breaks the tie.
    assert lines == {A: D("0.34"), B: D("0.33"), ("CC-0999", "usage"): D("0.33")}


def test_equal_remainders_with_the_same_code_go_by_kind() -> None:
    total, lines = round_month(
        day_total=D("0.01"),
        lines={A: D("0.005"), A_SHADOW: D("0.005")},
        tie_key=tie,
    )
    assert total == D("0.01")
    assert lines == {A_SHADOW: D("0.01"), A: D("0.00")}  # "shadow" < "usage"


def test_unmapped_sorts_before_every_code_on_a_tie() -> None:
    _, lines = round_month(
        day_total=D("0.01"),
        lines={A: D("0.005"), UNMAPPED: D("0.005")},
        tie_key=tie,
    )
    assert lines == {UNMAPPED: D("0.01"), A: D("0.00")}


def test_rounding_the_total_up_hands_out_more_than_one_cent() -> None:
    # 0.015 rounds (half-even) to 0.02: two of the three lines gain a cent.
    total, lines = round_month(
        day_total=D("0.015"),
        lines={A: D("0.005"), B: D("0.005"), UNMAPPED: D("0.005")},
        tie_key=tie,
    )
    assert total == D("0.02")
    assert lines == {UNMAPPED: D("0.01"), A: D("0.01"), B: D("0.00")}


def test_idle_is_rounded_as_one_of_the_lines() -> None:
    total, lines = round_month(
        day_total=D("10.005"),
        lines={A: D("3.3350"), B: D("3.3350"), IDLE: D("3.3350")},
        tie_key=tie,
    )
    assert total == D("10.00")
    assert sum(lines.values()) == total
    assert lines[IDLE] == D("3.33")


def test_credit_month_rounds_lines_without_making_any_positive() -> None:
    third = D(-1) / 3
    total, lines = round_month(
        day_total=D(-1),
        lines={A: third, B: third, UNMAPPED: D(-1) - 2 * third},
        tie_key=tie,
    )
    assert total == D("-1.00")
    assert sum(lines.values()) == total
    assert all(amount < 0 for amount in lines.values())
    assert sorted(lines.values()) == [D("-0.34"), D("-0.33"), D("-0.33")]


def test_empty_month_is_zero() -> None:
    assert round_month(day_total=D(0), lines={}, tie_key=tie) == (D("0.00"), {})


def test_rejects_lines_that_do_not_add_up_to_the_total() -> None:
    with pytest.raises(ValueError, match="do not add up"):
        round_month(day_total=D("1.00"), lines={A: D("0.99")}, tie_key=tie)


def test_month_of_days_rounds_to_the_cent_and_reconciles() -> None:
    lines: dict[Key, Decimal] = {}
    day_total = D(0)
    with localcontext(EXACT_CONTEXT):
        for n in range(31):
            day = allocate_day(
                cost=D("33.3333333") + n,
                usage={A: D(1 + n), B: D(2), UNMAPPED: D(n % 3)},
                total_tokens=D(10_000_000),
                capacity_tokens_per_second=CAPACITY,
                idle_policy="platform",
                tie_key=tie,
            )
            day_total += D("33.3333333") + n
            for key, amount in [*day.lines.items(), (IDLE, day.idle)]:
                lines[key] = lines.get(key, D(0)) + amount
    total, rounded = round_month(day_total=day_total, lines=lines, tie_key=tie)
    assert total == D("1498.33")
    assert sum(rounded.values()) == total
    assert all(abs(rounded[key] - lines[key]) < CENT for key in lines)


# ------------------------------------------------------------------ properties

KEYS: list[Key] = [
    A,
    B,
    A_SHADOW,
    UNMAPPED,
    ("CC-0001", "usage"),
    ("CC-0001", "shadow"),
]

costs = st.one_of(
    st.decimals(min_value=-(10**6), max_value=10**7, places=2),
    st.decimals(min_value=-(10**6), max_value=10**7, places=12),
    st.decimals(min_value=-(10**3), max_value=10**4, places=36),
)
quantities = st.one_of(
    st.just(D(0)),
    st.decimals(min_value=0, max_value=10**10, places=0),
    st.decimals(min_value=0, max_value=10**3, places=6),
)
usages = st.dictionaries(st.sampled_from(KEYS), quantities, max_size=len(KEYS))
capacities = st.none() | st.decimals(min_value=D("0.001"), max_value=10**7, places=3)
policies = st.sampled_from(["share", "platform"])


def reference(
    cost: Decimal,
    usage: dict[Key, Decimal],
    total_tokens: Decimal,
    capacity: Decimal | None,
    policy: str,
) -> tuple[dict[Key, Fraction], Fraction, Fraction]:
    """The rules of §4 in exact rationals, written out separately."""
    c = Fraction(cost)
    total = sum((Fraction(q) for q in usage.values()), Fraction(0))
    if total == 0:
        return {key: Fraction(0) for key in usage}, c, Fraction(0)
    rho = Fraction(1)
    if capacity is not None:
        rho = min(Fraction(1), Fraction(total_tokens) / (Fraction(capacity) * 86_400))
    if policy == "share":
        return {key: c * Fraction(q) / total for key, q in usage.items()}, Fraction(0), rho
    lines = {key: c * rho * Fraction(q) / total for key, q in usage.items()}
    return lines, c * (1 - rho), rho


@settings(max_examples=400, deadline=None)
@given(
    cost=costs,
    usage=usages,
    total_tokens=st.decimals(min_value=0, max_value=10**12, places=0),
    capacity=capacities,
    policy=policies,
)
def test_day_lines_plus_idle_equal_the_cost_exactly(
    cost: Decimal,
    usage: dict[Key, Decimal],
    total_tokens: Decimal,
    capacity: Decimal | None,
    policy: IdlePolicy,
) -> None:
    day = allocate_day(
        cost=cost,
        usage=usage,
        total_tokens=total_tokens,
        capacity_tokens_per_second=capacity,
        idle_policy=policy,
        tie_key=tie,
    )
    assert set(day.lines) == set(usage)
    assert exact_sum([*day.lines.values(), day.idle]) == cost

    exact_lines, exact_idle, rho = reference(cost, usage, total_tokens, capacity, policy)
    quantum = Fraction(10) ** min(-20, int(cost.as_tuple().exponent))
    for key, amount in [*day.lines.items(), (None, day.idle)]:
        exact = exact_idle if key is None else exact_lines[key]
        assert abs(Fraction(amount) - exact) < quantum
        if cost >= 0:
            assert amount >= 0
        if cost <= 0:
            assert amount <= 0
    if policy == "share" and any(usage.values()):
        assert day.idle == 0
    assert 0 <= day.utilization <= 1
    assert abs(Fraction(day.utilization) - rho) <= rho / 10**39


@settings(max_examples=200, deadline=None)
@given(
    days=st.lists(
        st.tuples(
            costs,
            usages,
            st.decimals(min_value=0, max_value=10**11, places=0),
            capacities,
        ),
        min_size=1,
        max_size=31,
    ),
    policy=policies,
)
def test_month_lines_add_up_to_the_rounded_cost_and_move_less_than_a_cent(
    days: list[tuple[Decimal, dict[Key, Decimal], Decimal, Decimal | None]],
    policy: IdlePolicy,
) -> None:
    lines: dict[Key, Decimal] = {}
    day_total = D(0)
    with localcontext(EXACT_CONTEXT):
        for cost, usage, tokens, capacity in days:
            day = allocate_day(
                cost=cost,
                usage=usage,
                total_tokens=tokens,
                capacity_tokens_per_second=capacity,
                idle_policy=policy,
                tie_key=tie,
            )
            day_total += cost
            for key, amount in [*day.lines.items(), (IDLE, day.idle)]:
                lines[key] = lines.get(key, D(0)) + amount

    total, rounded = round_month(day_total=day_total, lines=lines, tie_key=tie)

    assert total == day_total.quantize(CENT, rounding=ROUND_HALF_EVEN, context=Context(prec=100))
    assert set(rounded) == set(lines)
    assert exact_sum(list(rounded.values())) == total
    for key, amount in rounded.items():
        assert amount == amount.quantize(CENT)
        assert abs(amount - lines[key]) < CENT
        if amount < 0:
            assert lines[key] < 0  # rounding never turns a line negative
    if all(cost >= 0 for cost, *_ in days):
        assert all(amount >= 0 for amount in rounded.values())


@settings(max_examples=100, deadline=None)
@given(lines=st.dictionaries(st.sampled_from([*KEYS, IDLE]), costs, min_size=1), seed=st.integers())
def test_month_rounding_does_not_depend_on_the_order_of_the_lines(
    lines: dict[Key, Decimal], seed: int
) -> None:
    day_total = exact_sum(list(lines.values()))
    shuffled = list(lines.items())
    random.Random(seed).shuffle(shuffled)
    assert round_month(day_total=day_total, lines=lines, tie_key=tie) == round_month(
        day_total=day_total, lines=dict(shuffled), tie_key=tie
    )
