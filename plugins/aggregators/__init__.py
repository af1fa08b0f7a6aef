"""Built-in leaderboard aggregators."""
