"""`python -m app` / `lasso app`: serve the workbench alone (the API serves it at /ui beside the REST routes)."""

import argparse
import os


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lasso app", description="Run the AudioLasso Gradio workbench.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1; "
                                                            "0.0.0.0 to share on the network)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--checkpoint", default=os.environ.get("LASSO_CHECKPOINT"),
                        help='checkpoint file, or "debug" for a random tiny model (default: env LASSO_CHECKPOINT, '
                             "else the shipped model)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    from app.app import build_demo  # after parsing, so --help is instant

    build_demo(args.checkpoint).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
