"""The GANPaint web layer: REST + websocket painting server over the core library.

    from server.app import create_app
    app = create_app()                                   # loads models/ per GANPAINT_* settings
    app = create_app(models={"tiny": PaintModel.random()})   # tests: inject ready models
    # or from a shell: ganpaint serve --port 8000

The core library (ganpaint/) never imports this package.
"""
