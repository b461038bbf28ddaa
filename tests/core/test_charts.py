"""Chart geometry (dlqadmin.core.charts): real axes, thresholds on the scale, time ticks."""

from datetime import UTC, datetime, timedelta

from dlqadmin.core import charts

T0 = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)


def test_value_axis_covers_the_data_and_the_thresholds():
    c = charts.time_chart([("dead", "dlq", [(T0, 3), (T0 + timedelta(hours=1), 7)])], start=T0,
                          end=T0 + timedelta(hours=24),
                          thresholds=[("warning", "warning", 10), ("critical", "critical", 50)])
    labels = [t.label for t in c.y_ticks]
    assert labels[0] == "0" and float(labels[-1]) >= 50
    assert [line.kind for line in c.lines] == ["warning", "critical"]
    assert c.lines[1].pos < c.lines[0].pos  # higher value, higher on the chart
    assert all(c.top <= line.pos <= c.y_end for line in c.lines)


def test_time_axis_ticks_are_round_and_inside_the_window():
    end = T0 + timedelta(hours=24)
    c = charts.time_chart([("dead", "dlq", [(T0, 1)])], start=T0, end=end)
    assert 3 <= len(c.x_ticks) <= charts.MAX_X_TICKS
    assert all(c.left <= t.pos <= c.x_end for t in c.x_ticks)
    assert all(t.label.endswith(":00") or " " in t.label for t in c.x_ticks)  # whole hours, or a day at midnight
    days = charts.time_chart([("p", "processed", [(T0, 1)])], start=T0, end=T0 + timedelta(days=90))
    assert all(not t.label[0].isdigit() for t in days.x_ticks)  # "May 11": dates, not times


def test_points_sit_where_their_time_and_value_are():
    start, end = T0, T0 + timedelta(hours=10)
    c = charts.time_chart([("dead", "dlq", [(start, 0), (end, 100), (end + timedelta(hours=1), 5)])],
                          start=start, end=end)
    (s,) = c.series
    first, last = s.points.split()
    assert first == f"{float(c.left)},{float(c.y_end)}" and last.startswith(f"{float(c.x_end)},")
    assert s.last == 100 and s.peak == 100 and len(s.dots) == 2  # outside the window: left out


def test_empty_and_single_value_series_do_not_break():
    c = charts.time_chart([("dead", "dlq", [])], start=T0, end=T0 + timedelta(hours=1))
    assert c.empty and c.series[0].points == ""
    assert charts.sparkline([]) == "" and len(charts.sparkline([4]).split()) == 2
    assert charts.nice_step(0) == 1 and charts.nice_step(7) == 2 and charts.nice_step(4000) == 1000
