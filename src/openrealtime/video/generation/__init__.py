"""Turn a script into a narrated short video with subtitles, offline."""
