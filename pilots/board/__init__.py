"""The leaderboard and pilot profile pages (issue 11, "Leaderboard pages")."""
