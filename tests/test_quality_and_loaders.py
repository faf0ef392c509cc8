import numpy as np
import pandas as pd
import pytest

from pytest_stress.errors import DataGapWarning, DataQualityError, ScenarioError
from pytest_stress.market.data import MarketData
from pytest_stress.market.loaders import normalize_frame, parse_timestamps, read_bars
from pytest_stress.market.quality import validate
from pytest_stress.market.sources import load_source
from pytest_stress.market.synthetic import generate_market


def frame(n=6):
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame({"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 5.0,
                         "spread": 1e-4}, index=idx)


def test_clean_frame_has_no_findings():
    report = validate({"X": frame()})
    assert report.ok and str(report) == "data quality: no findings"


@pytest.mark.parametrize("overrides,check", [
    ({("close", 2): np.nan}, "nan"),
    ({("low", 1): -1.0}, "non_positive_price"),
    ({("high", 3): 98.0}, "high_below_low"),
    ({("high", 3): 100.2}, "high_below_open_close"),
    ({("low", 3): 100.2}, "low_above_open_close"),
    ({("volume", 0): -5.0}, "negative_volume"),
    ({("spread", 0): -1e-4}, "negative_spread"),
])
def test_each_check_is_reported(overrides, check):
    report = validate({"X": _apply(frame(), overrides)})
    assert report.count(check) == 1, str(report)
    assert not report.ok


def _apply(df, overrides):
    for (col, i), v in overrides.items():
        df.iloc[i, df.columns.get_loc(col)] = v
    return df


def test_timestamp_findings():
    df = frame(6)
    idx = df.index.tolist()
    idx[3] = idx[2]            # duplicate
    idx[5] = idx[0]            # out of order
    df.index = pd.DatetimeIndex(idx)
    report = validate({"X": df})
    assert report.count("duplicate_timestamp") == 1
    assert report.count("unsorted_timestamp") == 1
    gap = frame(6).drop(frame(6).index[2])
    r2 = validate({"X": gap})
    assert r2.count("gaps") == 1 and r2.ok   # a gap is a warning, not an error


def test_loading_invalid_data_raises_with_report_unless_repaired():
    bad = _apply(frame(6), {("close", 2): np.nan, ("high", 4): 50.0})
    with pytest.raises(DataQualityError, match="nan: 1") as info:
        load_source({"X": bad}, ("X",), "1h")
    assert info.value.report.count("high_below_low") == 1
    with pytest.warns(DataGapWarning, match="2 gap"):     # dropped bars leave gaps, and say so
        dropped = load_source({"X": bad}, ("X",), "1h", repair="drop")
    assert dropped.n_bars == 4
    filled = load_source({"X": bad}, ("X",), "1h", repair="fill")
    assert filled.n_bars == 6 and validate(filled).ok
    with pytest.raises(ScenarioError, match="unknown repair policy 'fix'"):
        load_source({"X": bad}, ("X",), "1h", repair="fix")


@pytest.mark.parametrize("raw", [
    [1704067200, 1704070800],                      # seconds
    [1704067200000, 1704070800000],                # milliseconds
    ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"],
    ["2024-01-01 00:00:00", "2024-01-01 01:00:00"],
])
def test_timestamps_in_seconds_ms_and_iso(raw):
    idx = parse_timestamps(pd.Series(raw))
    assert list(idx) == [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-01 01:00", tz="UTC")]


def test_columns_matched_case_insensitively(tmp_path):
    raw = pd.DataFrame({"Open Time": [1704067200000, 1704070800000], "OPEN": [1, 2], "High": [2, 3],
                        "low": [0.5, 1], "Close": [1.5, 2.5], "Volume": [3, 4]})
    raw = raw.rename(columns={"Open Time": "open_time"})
    df = normalize_frame(raw, "X")
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    raw.to_csv(tmp_path / "X.csv", index=False)
    raw.to_parquet(tmp_path / "X.parquet")
    for p in ("X.csv", "X.parquet"):
        pd.testing.assert_frame_equal(read_bars(tmp_path / p, "X"), df)
    with pytest.raises(ScenarioError, match="no time column"):
        normalize_frame(raw.drop(columns="open_time"), "X")


def test_market_round_trip_through_frames_and_files(tmp_path):
    m = generate_market(("BTCUSDT", "ETHUSDT"), 50, "4h", 3)
    for sym, f in m.frames().items():
        f.reset_index().to_csv(tmp_path / f"{sym}.csv", index=False)
    back = load_source(str(tmp_path / "{symbol}.csv"), m.symbols, "4h")
    np.testing.assert_allclose(back.values, m.values, rtol=1e-15)
    np.testing.assert_array_equal(back.timestamps, m.timestamps)
    assert MarketData.from_frames(m.frames()).timeframe == "4h"
