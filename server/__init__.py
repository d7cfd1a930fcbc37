"""The GANPaint web layer: REST + websocket painting server over the core library.

    from server.app import create_app
    app = create_app()                                   # loads models/ per GANPAINT_* settings
    app = create_app(models={"tiny": PaintModel.random()})   # tests: inject ready models
    # or from a shell: ganpaint serve --port 8000

How a change travels: a route or the websocket parses its input into a command (server.commands),
`Session.apply(command)` changes the picture (server.sessions), and the session tells its
subscribers: every open websocket renders the new state and sends it. Sources (a seed, a latent, a
photo) are typed values (server.sources); the store keeps sessions by id (server.store); photo
uploads and their adaptation jobs are server.photos; routes get these services as Annotated
dependencies (server.deps).

The core library (ganpaint/) never imports this package.
"""
