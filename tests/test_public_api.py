from __future__ import annotations

import subprocess
import sys

import swisscheese
import swisscheese.core
import swisscheese.monitors


def test_top_level_exports_are_pinned() -> None:
    assert sorted(swisscheese.__all__) == sorted(
        [
            "Action",
            "Content",
            "Context",
            "Finding",
            "Guard",
            "Stage",
            "Verdict",
            "__version__",
            "monitor",
        ]
    )
    for name in swisscheese.__all__:
        assert hasattr(swisscheese, name)


def test_core_exports_are_pinned() -> None:
    assert sorted(swisscheese.core.__all__) == sorted(
        [
            "Action",
            "BatchMonitor",
            "Content",
            "Context",
            "Finding",
            "InlineMonitor",
            "Monitor",
            "MonitorRun",
            "Origin",
            "Receipt",
            "Role",
            "RuleDecision",
            "RunStatus",
            "Span",
            "Stage",
            "ToolCall",
            "Verdict",
            "canonical_json",
            "decode_bytes",
            "digest",
            "json_text",
            "left_out",
            "text_digest",
            "valid_text",
        ]
    )


def test_help_imports_no_heavy_dependency() -> None:
    code = (
        "import sys\n"
        "from swisscheese.cli import app\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "heavy = {'torch', 'onnxruntime', 'transformers', 'detect_secrets', 'ahocorasick',"
        " 'sqlalchemy', 'alembic', 'psycopg', 'cryptography'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
