"""The `paht` command: up, serve, migrate, seed, and developer helpers."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from paht.runtime.settings import SERVICES, Settings


def _settings(**overrides) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def cmd_migrate(args) -> int:
    from paht.runtime import migrations
    from paht.runtime.registry import spec_of

    settings = _settings(data=args.data)
    for name in args.services or SERVICES:
        spec = spec_of(name)
        migrations.upgrade(spec.migrations, settings, name, spec.metadata)
        print(f"migrated {name}")
    return 0


def cmd_makemigration(args) -> int:
    from paht.runtime import migrations
    from paht.runtime.registry import spec_of

    settings = _settings(data=args.data)
    spec = spec_of(args.service)
    migrations.upgrade(spec.migrations, settings, args.service, spec.metadata)
    migrations.revision(spec.migrations, settings, args.service, spec.metadata, args.message)
    return 0


def cmd_seed(args) -> int:
    from paht.runtime.host import build_context
    from paht.runtime.registry import spec_of

    settings = _settings(data=args.data)
    for name in args.services or SERVICES:
        spec = spec_of(name)
        if spec.seed:
            ctx = build_context(spec, settings)
            spec.seed(ctx)
            ctx.engine.dispose()
            print(f"seeded {name}")
    return 0


def cmd_serve(args) -> int:
    from paht.runtime.host import run_loop, serve
    from paht.runtime.registry import spec_of

    overrides = {"service": args.service}
    if args.port:
        overrides["http_port"] = args.port
    if args.grpc_port:
        overrides["grpc_port"] = args.grpc_port
    settings = _settings(**overrides)
    return run_loop(serve(spec_of(args.service), settings))


def cmd_edge(args) -> int:
    from paht.runtime.edge import run_edge

    run_edge(_settings())
    return 0


def cmd_up(args) -> int:
    from paht.runtime.supervisor import UpOptions, run_up

    if args.port:
        os.environ["PAHT_PORT"] = str(args.port)
    if args.data:
        os.environ["PAHT_DATA"] = str(args.data)
    with_hubs = [h.strip() for value in args.with_hub or [] for h in value.split(",") if h.strip()]
    options = UpOptions(with_hubs=list(dict.fromkeys(with_hubs)), hub_port=args.hub_port, leaf_url=args.leaf_url,
                        leaf_host=args.leaf_host or os.environ.get("PAHT_LEAF_HOST") or "127.0.0.1")
    if args.join or args.node:
        if with_hubs or not (args.join and args.node):
            print("paht up: a hub is started with both --node HUB and --join URL (and not with --with-hub)", file=sys.stderr)
            return 2
        os.environ["PAHT_NODE_ID"] = args.node
        os.environ.pop("PAHT_HUBS", None)
        options.join = args.join
        if args.join_secret_file:
            options.join_secret = Path(args.join_secret_file).read_text(encoding="utf-8").strip()
        else:
            options.join_secret = os.environ.pop("PAHT_JOIN_SECRET", "").strip()  # not passed on to the services
        if not options.join_secret:
            print("paht up: the hub's join secret is needed: --join-secret-file FILE or PAHT_JOIN_SECRET "
                  "(the province keeps it in <its data>/federation/<hub>.secret)", file=sys.stderr)
            return 2
    elif with_hubs:
        declared = [h.strip() for h in os.environ.get("PAHT_HUBS", "").split(",") if h.strip()]
        os.environ["PAHT_HUBS"] = ",".join(dict.fromkeys(declared + with_hubs))
    return run_up(_settings(), options)


def cmd_walkthrough(args) -> int:
    from paht.runtime.walkthrough import walk

    def show(step, w):
        print(f"{w.steps[-1][1] * 1000:8.0f} ms  {step:15s} {w.report_id}", flush=True)

    w = walk(args.url, password=args.password, on_step=show)
    print(f"published: {args.url}/reports/{w.report_id} (tracking code {w.tracking_code})")
    return 0


def cmd_dead_letters(args) -> int:
    """List, replay or discard the events a service could not apply."""
    from paht.runtime.errors import DomainError
    from paht.runtime.host import build_context
    from paht.runtime.registry import spec_of

    settings = _settings(data=args.data)
    code = 0
    for name in [args.service] if args.service else SERVICES:
        ctx = build_context(spec_of(name), settings)
        try:
            dead = ctx.dead_letters()
            if args.action == "list":
                items, total = dead.list(None if args.all else "parked")
                for d in items:
                    print(f"{name:12s} {d.id} {d.status:9s} {d.ce_type} report {d.report_id} v{d.report_version}: {d.error.splitlines()[0][:120]}")
                if total:
                    print(f"{name}: {total} dead letter(s)")
            elif args.action == "replay":
                print(f"{name}: {dead.replay(args.id, 'cli').status}")
            else:
                print(f"{name}: {dead.discard(args.id, 'cli', args.reason or '').status}")
        except DomainError as exc:
            print(f"{name}: {exc.detail_en}", file=sys.stderr)
            code = 1
        finally:
            ctx.engine.dispose()
    return code


def cmd_partner(args) -> int:
    """Register, list, rotate or deactivate partner apps (their API keys are printed once, when made)."""
    from paht.runtime.errors import DomainError
    from paht.runtime.host import build_context
    from paht.runtime.registry import spec_of
    from services.intake.service_layer import partners

    ctx = build_context(spec_of("intake"), _settings(data=args.data))
    try:
        if args.partner_command == "add":
            partner, key = partners.create(ctx.engine, id=args.id, name=args.name, channel_name=args.channel or args.id,
                                           rate_per_minute=args.rate, verifies_phone=args.verifies_phone)
            print(f"added {partner.id} (channel {partner.channel_name}, {partner.rate_per_minute}/min"
                  f"{', verifies phones' if partner.verifies_phone else ''})")
            print(f"API key (shown once, send it as X-API-Key): {key}")
        elif args.partner_command == "rotate":
            partner, key = partners.rotate(ctx.engine, args.id)
            print(f"new API key of {partner.id} (shown once; the old one is refused from now on): {key}")
        elif args.partner_command == "revoke":
            partner = partners.deactivate(ctx.engine, args.id)
            print(f"deactivated {partner.id}: its key is refused from now on")
        else:
            found = partners.list_all(ctx.engine)
            for p in found:
                print(f"{p.id:24s} {'active  ' if p.active else 'inactive'} {p.channel_name:24s} {p.rate_per_minute:>6d}/min "
                      f"key {p.key_prefix}…{'  verifies phones' if p.verifies_phone else ''}  {p.name}")
            if not found:
                print("no partner apps")
    except DomainError as exc:
        print(f"paht partner {args.partner_command}: {exc.detail_en}", file=sys.stderr)
        return 2
    finally:
        ctx.engine.dispose()
    return 0


def stored_or_builtin(args):
    """The calendar dispatch stores (PAHT_DATA / --data, or DATABASE_URL), else the built-in one; says which on stderr."""
    from paht.runtime.sla import CalendarData
    from services.dispatch.service_layer.business_calendar import stored

    try:
        found = stored(_settings(data=args.data))
    except Exception as exc:  # an unreachable database: say so, and compute with the built-in calendar
        print(f"paht sla due: could not read dispatch's calendar ({type(exc).__name__}); using the built-in calendar", file=sys.stderr)
        found = None
    if found is None:
        print("calendar: built-in (public holidays, Monday-Friday 07:00-11:30 and 13:30-17:00)", file=sys.stderr)
        return CalendarData()
    revision, data = found
    print(f"calendar: revision {revision} stored by dispatch", file=sys.stderr)
    return CalendarData.from_dict(data)


def cmd_sla_due(args) -> int:
    """Print a step's deadline (last line: YYYY-MM-DDTHH:MM:SS+07:00); bad arguments: a message on stderr, status 2."""
    from datetime import datetime

    from paht.runtime.errors import DomainError
    from paht.runtime.sla import SlaEngine, Step, load_calendar

    try:
        step = Step.parse(args.step)
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            print(f"paht sla due: START {args.start!r} is not an ISO 8601 date and time, e.g. 2026-03-02T09:15:00+07:00", file=sys.stderr)
            return 2
        if start.tzinfo is None:
            print(f"paht sla due: START {args.start!r} has no UTC offset; add one, e.g. +07:00", file=sys.stderr)
            return 2
        if args.calendar or args.builtin:
            print(f"calendar: {args.calendar or 'built-in'}", file=sys.stderr)
            engine = SlaEngine(load_calendar(args.calendar))
        else:
            engine = SlaEngine(stored_or_builtin(args))
        due = engine.due(step, start, escalated=args.escalated, urgent=args.urgent, org=tuple(args.org or ()))
    except DomainError as exc:
        print(f"paht sla due: {exc.detail_en}", file=sys.stderr)
        return 2
    print(due.isoformat(timespec="seconds"))  # to the second (a fraction of a second is dropped)
    return 0


def cmd_proto(args) -> int:
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root))
    from paht_build import generate_protos

    generate_protos()
    print("generated Python code from proto/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paht", description="PAHT: receive and handle citizens' field reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="run everything on this machine (embedded default) at http://127.0.0.1:8080")
    p.add_argument("--port", type=int, help="edge port (default 8080, or PAHT_PORT)")
    p.add_argument("--data", type=Path, help="data folder (default ./paht-data, or PAHT_DATA)")
    p.add_argument("--with-hub", action="append", metavar="HUB",
                   help="also run this district hub as a node of its own (repeat, or a comma list), e.g. donghoi")
    p.add_argument("--hub-port", type=int, help="edge port of the (first) hub run with --with-hub (default: --port + 1)")
    p.add_argument("--leaf-host", help="where the province's leafnode listener binds (default 127.0.0.1, or PAHT_LEAF_HOST)")
    p.add_argument("--node", help="run this node as a hub (its node id, e.g. donghoi); needs --join")
    p.add_argument("--join", metavar="URL", help="the province's address, e.g. http://10.0.0.5:8080 (a hub joins it)")
    p.add_argument("--join-secret-file", type=Path, metavar="FILE",
                   help="file holding the hub's join secret (else PAHT_JOIN_SECRET); the province's <data>/federation/<hub>.secret")
    p.add_argument("--leaf-url", help="reach the province's leafnode listener at this URL instead of the one it gives")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("migrate", help="apply database migrations (all services, or the ones named)")
    p.add_argument("services", nargs="*")
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load demo data (organisation tree, topics, demo accounts)")
    p.add_argument("services", nargs="*")
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("serve", help="run one service (HTTP + gRPC + events) in this process")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("--port", type=int)
    p.add_argument("--grpc-port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("edge", help="run the edge router that puts every service under one origin")
    p.set_defaults(func=cmd_edge)

    p = sub.add_parser("makemigration", help="(developers) autogenerate a migration for a service")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("-m", "--message", required=True)
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_makemigration)

    p = sub.add_parser("walkthrough", help="drive one demo report through every step over HTTP")
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--password", default=os.environ.get("PAHT_DEMO_PASSWORD", "paht-demo"))
    p.set_defaults(func=cmd_walkthrough)

    p = sub.add_parser("dead-letters", help="(operators) list, replay or discard events a service could not apply")
    p.add_argument("action", choices=["list", "replay", "discard"])
    p.add_argument("id", nargs="?", help="dead letter id (replay, discard)")
    p.add_argument("--service", choices=SERVICES, help="one service (required for replay and discard)")
    p.add_argument("--reason", help="why it is discarded (discard)")
    p.add_argument("--all", action="store_true", help="list replayed and discarded ones too")
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_dead_letters)

    p = sub.add_parser("partner", help="(administrators) partner apps that submit reports with their own API key")
    partner = p.add_subparsers(dest="partner_command", required=True)
    p = partner.add_parser("add", help="register a partner app and print its API key (once)")
    p.add_argument("--id", required=True, help="lower-case letters, digits, hyphens, e.g. smartcity-donghoi")
    p.add_argument("--name", required=True, help="its name for people, e.g. \"Ứng dụng Đồng Hới SmartCity\"")
    p.add_argument("--channel", help="the channel name its reports are recorded under (default: the id)")
    p.add_argument("--rate", type=int, default=60, help="requests per minute (default 60); beyond: 429")
    p.add_argument("--verifies-phone", action="store_true", help="the app proves its users' phone numbers itself")
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_partner)
    p = partner.add_parser("list", help="list partner apps (keys are never shown again)")
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_partner)
    p = partner.add_parser("rotate", help="give a partner app a new API key (printed once); the old one stops working")
    p.add_argument("id")
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_partner)
    p = partner.add_parser("revoke", help="deactivate a partner app: its key is refused from now on")
    p.add_argument("id")
    p.add_argument("--data", type=Path)
    p.set_defaults(func=cmd_partner)

    p = sub.add_parser("sla", help="deadlines of the procedure (the SLA engine)")
    sla = p.add_subparsers(dest="sla_command", required=True)
    p = sla.add_parser("due", help="print when a step started at START is due, in Vietnam time",
                       description="Print the deadline of STEP for a clock started at START (ISO 8601 with its UTC offset). "
                                   "Steps: dispatch, agency, handling, approval, publish, clarify, reporter-edit, verification.")
    p.add_argument("step", metavar="STEP", help="dispatch, agency, handling, approval, publish, clarify, reporter-edit or verification")
    p.add_argument("start", metavar="START", help="when the clock started, with its UTC offset, e.g. 2026-03-02T09:15:00+07:00")
    p.add_argument("--escalated", action="store_true",
                   help="dispatch reported to the Steering Committee (1.5 h; 07:30 after a night arrival)")
    p.add_argument("--urgent", action="store_true", help="dispatch of an urgent report for 113/114/115 (10 minutes)")
    p.add_argument("--org", action="append", metavar="ORG",
                   help="organisation whose calendar applies; repeat for its ancestors, nearest first")
    p.add_argument("--calendar", type=Path, metavar="FILE",
                   help="a calendar (JSON or YAML, CalendarData's shape); default: the one dispatch stores, else the built-in one")
    p.add_argument("--builtin", action="store_true", help="use the built-in calendar (national holidays, default hours) even where dispatch stores one")
    p.add_argument("--data", type=Path, help="data folder of an embedded run whose calendar to use (default ./paht-data, or PAHT_DATA)")
    p.set_defaults(func=cmd_sla_due)

    p = sub.add_parser("proto", help="(developers) regenerate Python code from proto/")
    p.set_defaults(func=cmd_proto)

    args = parser.parse_args(argv)
    if args.func in (cmd_up, cmd_serve, cmd_edge, cmd_migrate, cmd_seed):
        # Files these create in the data folder (SQLite databases and their WAL, keys, logs) are the owner's only.
        os.umask(0o077)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
