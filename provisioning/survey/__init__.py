"""Site survey: the report model, the proposed gateway configuration, the network checks and
the terminal/HTML renderers. The probing of cameras and serial ports that feeds them runs in
``kendali_cli.survey`` (this package may not import the agent)."""
