"""Small pieces both agent and controller use: config loading and logging set-up."""
