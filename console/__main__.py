"""``python -m console``: serve the help-desk console, or manage its accounts.

    python -m console [serve] [--host 127.0.0.1] [--port 8081]
    python -m console users add <name> --role officer|supervisor [--password-stdin] [--no-force-change]
    python -m console users passwd <name> [--password-stdin]
    python -m console users list
    python -m console users token <name> [--revoke]   # the officer's own staff API token, printed once
    python -m console ensure-demo        # creates the demo account once and prints its password once
    python -m console retention [--dry-run]   # mask / delete personal data in old conversations (cron-able)
    python -m console review export > file.jsonl   # approved review links as question-bank lines
"""

from __future__ import annotations

import argparse
import getpass
import logging
import secrets
import sys
import threading

DEMO_USER = "demo"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        raise SystemExit("Hai lần nhập mật khẩu không khớp.")
    return first


def _stores():
    from console.auth import AccountStore, AuditLog
    from core.db import shared_database
    from settings import get_settings

    settings = get_settings()
    db = shared_database(settings)
    db.ensure_schema()
    return settings, db, AccountStore(db, session_hours=settings.console_session_hours), AuditLog(db)


def cmd_users(args) -> int:
    """Account management sub-commands."""
    from console.auth import AuthError

    _, _, accounts, audit = _stores()
    try:
        if args.users_cmd == "add":
            account = accounts.add_user(args.name, _read_password(args.password_stdin), args.role,
                                        must_change_password=not args.no_force_change)
            audit.record("cli", "user_add", None, f"{account.name} ({account.role})")
            print(f"Đã tạo tài khoản {account.name} (vai trò {account.role}).")
        elif args.users_cmd == "passwd":
            accounts.set_password(args.name, _read_password(args.password_stdin), must_change_password=True)
            accounts.end_sessions(args.name.strip().lower())
            audit.record("cli", "user_passwd", None, args.name.strip().lower())
            print(f"Đã đặt lại mật khẩu cho {args.name}; cần đổi mật khẩu ở lần đăng nhập tới.")
        elif args.users_cmd == "token":
            name = args.name.strip().lower()
            if args.revoke:
                count = accounts.revoke_api_tokens(name)
                audit.record("cli", "api_token_revoke", None, name)
                print(f"Đã thu hồi {count} mã truy cập API của {name}.")
            else:
                token = accounts.issue_api_token(name)
                audit.record("cli", "api_token_issue", None, name)
                print(f"Mã truy cập API cho cán bộ {name} (chỉ hiện một lần; mã cũ, nếu có, hết hiệu lực):")
                print(token)
        else:
            for account in accounts.list_users():
                flags = " (phải đổi mật khẩu)" if account.must_change_password else ""
                print(f"{account.name}\t{account.role}{flags}")
    except AuthError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    return 0


def cmd_ensure_demo(args) -> int:
    """Create the demo supervisor account when no account exists yet; print its password once."""
    settings, _, accounts, audit = _stores()
    if accounts.count_users() > 0:
        return 0
    password = secrets.token_urlsafe(12)
    accounts.add_user(DEMO_USER, password, "supervisor", must_change_password=True)
    audit.record("cli", "user_add", None, f"{DEMO_USER} (supervisor, demo)")
    print("  Bảng điều khiển cho cán bộ: đã tạo tài khoản mẫu (chỉ hiện một lần):")
    print(f"    tên đăng nhập: {DEMO_USER}   mật khẩu: {password}")
    print("    (bắt buộc đổi mật khẩu ở lần đăng nhập đầu; tạo thêm tài khoản bằng "
          "`python -m console users add <tên> --role officer`)")
    return 0


def cmd_retention(args) -> int:
    """Run the retention job once and print its report as JSON; exit 1 when a part failed."""
    import json

    from console.retention import retention_job_from_settings
    from core.privacy import install_pii_log_filter

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_pii_log_filter()
    settings, db, _, _ = _stores()
    try:
        job = retention_job_from_settings(settings, db)
    except ValueError:
        print(f"Cấu hình lưu giữ dữ liệu không hợp lệ: RETENTION_REDACT_DAYS={settings.retention_redact_days}, "
              f"RETENTION_DELETE_DAYS={settings.retention_delete_days}. Cả hai phải từ 0 trở lên, và "
              "RETENTION_DELETE_DAYS phải bằng 0 (không xoá) hoặc không nhỏ hơn RETENTION_REDACT_DAYS.",
              file=sys.stderr)
        return 2
    report = job.run(dry_run=args.dry_run)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    return 1 if report.errors else 0


def cmd_review(args) -> int:
    """Print the approved questions (REVIEW_APPROVED_FILE) as bank lines, for a reviewed commit to the bank."""
    import json

    from core.review.approved import ApprovedQuestions
    from settings import get_settings

    for line in ApprovedQuestions(get_settings().review_approved_file, set).export():
        print(json.dumps(line, ensure_ascii=False))
    return 0


def start_retention_timer(settings, db) -> threading.Thread | None:
    """Run the retention job now and then every ``retention_interval_hours`` in a daemon thread (0 = off)."""
    from console.retention import retention_job_from_settings

    if settings.retention_interval_hours <= 0:
        return None
    try:
        job = retention_job_from_settings(settings, db)
    except ValueError as exc:  # a bad RETENTION_* value must not keep the console from serving
        logging.getLogger(__name__).error("retention: not scheduled, invalid settings: %s", exc)
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            job.run()  # never raises: failures are logged and listed in its report
            stop.wait(settings.retention_interval_hours * 3600)

    thread = threading.Thread(target=loop, name="console-retention", daemon=True)
    thread.start()
    return thread


def cmd_serve(args) -> int:
    """Serve the console until interrupted."""
    from console.app import create_app
    from console.handlers.common import StaffDeps
    from console.services import KnowledgeConsole
    from core.feedback import FeedbackStore
    from core.handoff import HandoffStore
    from core.notifications.outbox import Outbox
    from core.privacy import install_pii_log_filter
    from core.review.service import review_service_from_settings
    from core.status.factory import status_backend_from_settings
    from core.tracker_db import tracker_source
    from staff_api.rasa_client import RasaClient

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_pii_log_filter()
    settings, db, accounts, audit = _stores()
    backend = []

    def status():
        if not backend:
            backend.append(status_backend_from_settings(settings))
        return backend[0]

    knowledge = KnowledgeConsole(portal_url=settings.portal_url)
    deps = StaffDeps(accounts=accounts, audit=audit, handoffs=HandoffStore(db), feedback=FeedbackStore(db),
                     status=status, knowledge=knowledge,
                     rasa=RasaClient(settings.rasa_url, settings.rasa_api_token or None),
                     secure_cookie=settings.console_secure_cookie, tracker_db=tracker_source(settings),
                     notifications=Outbox(db),
                     review=review_service_from_settings(settings, db, tracker_source(settings),
                                                         embed=knowledge.embed_questions))
    app = create_app(deps)
    threading.Thread(target=deps.knowledge.warm, name="console-warmup", daemon=True).start()
    start_retention_timer(settings, db)
    app.run(host=args.host, port=args.port or settings.console_port, single_process=True, access_log=False,
            motd=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m console", description="Bảng điều khiển cho cán bộ")
    sub = parser.add_subparsers(dest="cmd")
    serve = sub.add_parser("serve", help="chạy bảng điều khiển (mặc định)")
    for p in (parser, serve):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=0)
    users = sub.add_parser("users", help="quản lý tài khoản cán bộ")
    users_sub = users.add_subparsers(dest="users_cmd", required=True)
    add = users_sub.add_parser("add", help="tạo tài khoản")
    add.add_argument("name")
    add.add_argument("--role", choices=("officer", "supervisor"), required=True)
    add.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ dòng đầu của stdin")
    add.add_argument("--no-force-change", action="store_true", help="không bắt đổi mật khẩu ở lần đăng nhập đầu")
    passwd = users_sub.add_parser("passwd", help="đặt lại mật khẩu (bắt đổi ở lần đăng nhập tới)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    users_sub.add_parser("list", help="liệt kê tài khoản")
    api_token = users_sub.add_parser("token", help="cấp mã truy cập API riêng cho cán bộ (in ra một lần)")
    api_token.add_argument("name")
    api_token.add_argument("--revoke", action="store_true", help="thu hồi mã truy cập API của cán bộ")
    sub.add_parser("ensure-demo", help="tạo tài khoản mẫu nếu chưa có tài khoản nào")
    retention = sub.add_parser("retention", help="che/xoá dữ liệu cá nhân trong hội thoại cũ")
    retention.add_argument("--dry-run", action="store_true", help="chỉ đếm, không sửa gì")
    review = sub.add_parser("review", help="hàng đợi câu hỏi cần xem lại")
    review_sub = review.add_subparsers(dest="review_cmd", required=True)
    review_sub.add_parser("export", help="in các câu hỏi đã duyệt theo định dạng ngân hàng câu hỏi")
    args = parser.parse_args(argv)
    if args.cmd == "users":
        return cmd_users(args)
    if args.cmd == "ensure-demo":
        return cmd_ensure_demo(args)
    if args.cmd == "retention":
        return cmd_retention(args)
    if args.cmd == "review":
        return cmd_review(args)
    return cmd_serve(args)


if __name__ == "__main__":
    sys.exit(main())
