# Alembic configuration for a project that numbers documents with sa_sequencing.

[alembic]
# path to migration scripts, relative to %(here)s (the directory of this file)
script_location = ${script_location}

# sys.path entries prepended before env.py runs (relative to the current directory),
# so that env.py can import your models; split on path_separator below.
prepend_sys_path = .

# template used to generate migration file names; the default is %%(rev)s_%%(slug)s
# file_template = %%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s

# Where revisions are found: this project's own versions directory FIRST, then
# sa_sequencing's branch, shipped inside the installed package as the resource
# "sa_sequencing:migrations/versions". New revisions and merges go to the first one:
# env.py sees to it (see revision_environment below), and Alembic alone writes a merge
# next to the first head it finds, which is then one of yours.
#
# path_separator must NOT be "os": on POSIX that is ":", which would cut the package
# resource in two. "newline" (one location per line, as below) also keeps paths with
# spaces intact; "space" works when no path has a space in it.
path_separator = newline
version_locations =
    ${script_location}/versions
    sa_sequencing:migrations/versions

# The table_prefix given to Sequencing(Base, table_prefix=...): the sa_sequencing revisions
# create and drop "<prefix>sequences", "<prefix>sequence_counters", ... Set it before the
# first "alembic upgrade sa_sequencing@head" and never change it afterwards.
sa_sequencing.table_prefix =

# Run env.py for "alembic revision" (with or without --autogenerate) and "alembic merge":
# env.py keeps their new files out of the installed sa_sequencing package, where Alembic
# would otherwise put a revision on top of the branch's head (the next deploy, with a
# fresh package, would fail with "Can't locate revision"). Like --autogenerate, these
# commands then connect to sqlalchemy.url.
revision_environment = true

# timezone to use when rendering the date within the migration file
# as well as the filename (needs the tzdata package).
# timezone =

# max length of characters to apply to the "slug" field
# truncate_slug_length = 40

# the output encoding used when revision files are written from script.py.mako
# output_encoding = utf-8

# database URL, read by env.py
sqlalchemy.url = driver://user:pass@localhost/dbname


[post_write_hooks]
# post_write_hooks run on newly generated revision scripts, e.g. ruff:
# hooks = ruff
# ruff.type = module
# ruff.module = ruff
# ruff.options = check --fix REVISION_SCRIPT_FILENAME

# Logging configuration, read by env.py.
[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
