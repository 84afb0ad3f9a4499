"""Store and CLI contract tests on the committed knowledge/data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from knowledge.store import get_procedure, load_faq, load_procedures

ROOT = Path(__file__).resolve().parents[2]


def test_load_procedures_once_and_lookup():
    procs = load_procedures()
    assert len(procs) == 2642
    assert load_procedures()[0] is procs[0]  # cached
    birth = get_procedure("1.001193")
    assert birth.name == "Thủ tục đăng ký khai sinh"
    assert birth.levels == ["Cấp xã"] and birth.field == "Hộ tịch"
    assert "làm giấy khai sinh" in birth.aliases
    assert birth.description.startswith("Thủ tục cấp xã, lĩnh vực Hộ tịch: đăng ký khai sinh")
    assert get_procedure("9.999999") is None


def test_curated_aliases_reach_common_procedures():
    assert "làm sổ đỏ" in get_procedure("1.012753").aliases
    assert "đăng ký hộ kinh doanh" in get_procedure("1.001612").aliases
    assert "lý lịch tư pháp" in get_procedure("3.000333").aliases
    assert "đổi căn cước" in get_procedure("1.000889").aliases


def test_faq_entries_are_valid():
    faq = load_faq()
    ids = {f.id for f in faq}
    assert {"vneid_login", "online_payment", "e_receipt", "remote_signing", "track_application"} <= ids
    assert all(f.source.startswith(("https://dichvucong.gov.vn", "https://vneid.gov.vn")) for f in faq)


def test_stats_cli_contract():
    out = subprocess.run([sys.executable, "-m", "knowledge", "stats", "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    stats = json.loads(out)
    assert list(stats) == ["procedures", "faq", "fields"]
    assert stats["procedures"] == 2642 and stats["faq"] == len(load_faq())
    assert stats["fields"]["name"] == 2642 and stats["fields"]["documents"] > 2500
