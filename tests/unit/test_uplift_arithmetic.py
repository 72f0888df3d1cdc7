"""The campaign effect's arithmetic, against values worked out by hand."""

import pytest
from flask_babel import force_locale

from app.reports.effect import Effect


def effect(n1, c1, n0, c0):
    return Effect(14, None, n1, n0, c1, c0, revenue=0, coupons_redeemed=0)


def test_a_clear_uplift_is_called_unlikely_to_be_chance(app):
    # 200 of 1,000 recipients bought, 100 of 1,000 kept back: p₁ = 0.2, p₀ = 0.1.
    # Pooled p = 300 / 2,000 = 0.15; error = √(0.15 × 0.85 × (2 / 1,000)) = 0.0159687;
    # z = 0.1 / 0.0159687 = 6.2622; two-sided p = erfc(6.2622 / √2) ≈ 3.8e-10.
    result = effect(1000, 200, 1000, 100)
    assert result.uplift == pytest.approx(0.1)
    assert result.z == pytest.approx(6.2622, abs=1e-4)
    assert result.p_value == pytest.approx(3.8e-10, rel=0.05)
    # Interval: 0.1 ± 1.96 × √(0.2 × 0.8 / 1,000 + 0.1 × 0.9 / 1,000) = 0.1 ± 0.030990.
    low, high = result.interval
    assert (low, high) == (pytest.approx(0.069010, abs=1e-5), pytest.approx(0.130990, abs=1e-5))
    with app.test_request_context(), force_locale("en"):
        assert result.in_words() == (
            "about 10 more customers in 100 came back; this is unlikely to be chance."
        )


def test_a_small_holdout_leaves_the_difference_to_chance(app):
    # 20 of 100 against 5 of 50: pooled p = 25 / 150; error = √(1/6 × 5/6 × (1/100 + 1/50))
    # = 0.0645497; z = 0.1 / 0.0645497 = 1.549193; p = erfc(1.549193 / √2) = 0.12134.
    result = effect(100, 20, 50, 5)
    assert result.z == pytest.approx(1.549193, abs=1e-6)
    assert result.p_value == pytest.approx(0.12134, abs=1e-5)
    assert not result.significant
    with app.test_request_context(), force_locale("en"):
        assert "could well be chance" in result.in_words()


def test_fewer_customers_back_is_said_so(app):
    result = effect(1000, 50, 1000, 100)
    assert result.uplift == pytest.approx(-0.05)
    with app.test_request_context(), force_locale("en"):
        assert result.in_words().startswith("about 5 fewer customers in 100 came back")


def test_without_a_holdout_or_buyers_there_is_nothing_to_compare(app):
    assert effect(100, 10, 0, 0).uplift is None
    assert effect(100, 10, 0, 0).interval is None
    assert effect(100, 0, 50, 0).z is None  # nobody bought: no variance
    with app.test_request_context(), force_locale("en"):
        assert "No holdout was kept" in effect(100, 10, 0, 0).in_words()
        assert "Nobody in either group has bought" in effect(100, 0, 50, 0).in_words()
