"""The Otipass connector: an installed app that registers its interface type and functions."""
