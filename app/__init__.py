"""AudioLasso's Gradio workbench: try prompts, spans and reranking candidates on audio or video, in the browser.

`from app.app import build_demo` gives the page (the API mounts it at /ui); `python -m app` (or `lasso app`)
serves it alone.
"""
