"""MCP call cost: Biseo's McpConnection (blocking, on its background loop) against the raw `mcp` SDK client.

Both talk to the same real server (mcp-server-time over stdio). Figures: start (spawn + handshake + first
call) and per-call latency (median, p90) over N calls, and the ratio app/raw. No model is loaded.

    python bench/bench_mcp.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from assistant.mcp.client import EventLoopThread, McpConnection  # noqa: E402
from assistant.settings import McpServerConfig  # noqa: E402

COMMAND = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
ARGS = {"timezone": "Asia/Seoul"}


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2),
            "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


async def raw(calls: int) -> dict[str, float]:
    """The SDK alone, in its own event loop: what any async MCP client pays."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=COMMAND[0], args=COMMAND[1:])
    started = time.perf_counter()
    async with Client(params, cache=None) as client:
        await client.call_tool("get_current_time", ARGS)
        start_s = time.perf_counter() - started
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            result = await client.call_tool("get_current_time", ARGS)
            samples.append(time.perf_counter() - t)
            assert not result.is_error
    return {"start_s": round(start_s, 3), **figures(samples)}


def app(calls: int) -> dict[str, float]:
    """Biseo's path: a blocking call from a worker thread onto the shared MCP loop, with timeout and cancel checks."""
    loop = EventLoopThread()
    config = McpServerConfig(command=COMMAND[0], args=COMMAND[1:])
    connection = McpConnection("time", config, loop, Path(tempfile.mkdtemp()))
    try:
        started = time.perf_counter()
        connection.call_tool("get_current_time", ARGS)
        start_s = time.perf_counter() - started
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            result = connection.call_tool("get_current_time", ARGS)
            samples.append(time.perf_counter() - t)
            assert not result.is_error
    finally:
        connection.stop()
        loop.close()
    return {"start_s": round(start_s, 3), **figures(samples)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "mcp.json")
    args = ap.parse_args(argv)
    raw_figures = asyncio.run(raw(args.calls))
    app_figures = app(args.calls)
    result = {"calls": args.calls, "server": "mcp-server-time (stdio)", "raw_sdk": raw_figures, "app": app_figures,
              "ratio_median_app_over_raw": round(app_figures["median_ms"] / raw_figures["median_ms"], 2),
              "ratio_start_app_over_raw": round(app_figures["start_s"] / raw_figures["start_s"], 2)}
    print(f"{'':10}{'start s':>9}{'median ms':>11}{'p90 ms':>9}{'mean ms':>9}")
    for name, f in (("raw SDK", raw_figures), ("app", app_figures)):
        print(f"{name:10}{f['start_s']:>9}{f['median_ms']:>11}{f['p90_ms']:>9}{f['mean_ms']:>9}")
    print(f"app/raw: median {result['ratio_median_app_over_raw']}x, start {result['ratio_start_app_over_raw']}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
