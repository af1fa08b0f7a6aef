"""Verbs about the installation: ``plugins`` (what is installed and registered) and
``devices`` (what the hooks report and which device a run would use).
"""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from .output import stdout_console


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``plugins`` and ``devices``."""
    p = subparsers.add_parser("plugins", help="list plugins and every registered component")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(handler=cmd_plugins)

    p = subparsers.add_parser("devices", help="list reported devices and the one a run would use")
    p.set_defaults(handler=cmd_devices)


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins (with versions and hooks) and components by kind."""
    from ..core.host import KINDS, plugin_manager

    host = plugin_manager()
    infos = host.plugin_infos()
    components = {
        kind: [
            {
                "name": spec.name,
                "plugin": spec.plugin,
                "aliases": list(spec.aliases),
                "parameters": [str(p) for p in spec.parameters],
                "description": spec.description,
            }
            for spec in host.registry(kind).specs()
        ]
        for kind in KINDS
    }
    if args.json:
        payload = {
            "plugins": [
                {
                    "name": i.name,
                    "distribution": i.distribution,
                    "version": i.version,
                    "builtin": i.builtin,
                    "hooks": list(i.hooks),
                }
                for i in infos
            ],
            "components": components,
            "failures": [f.__dict__ for f in host.failures],
        }
        print(json.dumps(payload, indent=2))
        return 0
    console = stdout_console()
    table = Table(title="plugins")
    for col in ("plugin", "version", "hooks"):
        table.add_column(col)
    for info in infos:
        version = "built-in" if info.builtin else f"{info.distribution or '?'} {info.version or ''}"
        table.add_row(info.name, version, ", ".join(info.hooks))
    console.print(table)
    for kind, rows in components.items():
        if not rows:
            continue
        table = Table(title=kind)
        for col in ("name", "plugin", "parameters", "description"):
            table.add_column(col, overflow="fold")
        for row in rows:
            name = row["name"] + (f" ({', '.join(row['aliases'])})" if row["aliases"] else "")
            table.add_row(name, row["plugin"], ", ".join(row["parameters"]), row["description"])
        console.print(table)
    for failure in host.failures:
        console.print(f"[red]failed:[/red] {failure.plugin} ({failure.stage}): {failure.error}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """List device reports and the chosen device."""
    from ..core.host import plugin_manager

    host = plugin_manager()
    chosen = host.select_device(args.device)
    table = Table(title="devices")
    for col in ("device", "priority", "dtypes", "plugin", "description"):
        table.add_column(col)
    for report in host.device_reports():
        table.add_row(
            report.name,
            str(report.priority),
            ",".join(report.dtypes),
            report.plugin,
            report.description,
        )
    console = stdout_console()
    console.print(table)
    console.print(f"selected: {chosen.name}")
    return 0
