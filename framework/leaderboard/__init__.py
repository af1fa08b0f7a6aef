"""Leaderboards: score sources, pairwise preferences, rank intervals and agreement, the
leaderboard of many rules.
"""
