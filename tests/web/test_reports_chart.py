"""The report's charts in Chromium: text that grows with the reader's font size and zoom, an hourly axis that spans
the working day."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, sign_in

pytestmark = pytest.mark.browser

LABEL_HEIGHT = "() => document.querySelector('svg.chart-bars text').getBoundingClientRect().height"


def test_chart_text_scales_with_the_font_size_and_the_axis_spans_the_day(site: Site, new_context: Any) -> None:
    site.issue("A")
    site.issue("B")
    page: Page = new_context().new_page()
    sign_in(page, "manager", next_path="/reports")
    chart = page.locator("svg.chart-bars")
    expect(chart).to_be_visible()
    described = chart.locator("desc").evaluate("e => e.textContent")
    assert "08:00: 0" in described or "08:00: 1" in described or "08:00: 2" in described
    assert "17:00:" in described  # the working day, even hours where no ticket was issued
    normal = page.evaluate(LABEL_HEIGHT)
    assert normal >= 12  # readable at the default size
    # A reader who sets a larger text size (or zooms): the chart's words grow with it instead of staying put.
    page.evaluate("() => { document.documentElement.style.fontSize = '32px'; }")
    bigger = page.evaluate(LABEL_HEIGHT)
    assert bigger >= 1.8 * normal, (normal, bigger)
