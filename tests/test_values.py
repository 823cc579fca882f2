"""A value the prompt gives goes into the example's placeholder (core/retrieval/values.py): real
tldr-pages commands, real prompts, and the shipped store's placeholders."""

import pytest

from core.retrieval.values import fill, own_numbers, placeholders_of, prompt_values


def test_placeholders_of_a_tldr_command_leave_its_options_out():
    raw = "tail {{[-n|--lines]}} {{count}} {{[-s|--sleep-interval]}} {{seconds}} {{[-f|--follow]}} {{path/to/file}}"
    assert placeholders_of(raw) == ["count", "seconds", "path/to/file"]
    assert placeholders_of("rm {{path/to/file1 path/to/file2 ...}}") == ["path/to/file1 path/to/file2"]
    assert placeholders_of("free {{-h}}") == []
    # a placeholder with braces of its own is whole: a value fills it without leaving a brace behind
    raw = "touch {{path/to/file{1..10}}}"
    assert placeholders_of(raw) == ["path/to/file{1..10}"]
    assert fill("touch path/to/file{1..10}", placeholders_of(raw), "create an empty file called notes.txt") == \
        "touch notes.txt"


@pytest.mark.parametrize("prompt, code, placeholders, filled", [
    ("show the first 5 lines of notes.txt", "head -n count path/to/file", ["count", "path/to/file"],
     "head -n 5 notes.txt"),
    ("change the owner of a file to user bob", "sudo chown user path/to/file_or_directory",
     ["user", "path/to/file_or_directory"], "sudo chown bob path/to/file_or_directory"),
    ("kill all processes named firefox", 'pkill "process_name"', ["process_name"], 'pkill "firefox"'),
    ("show disk usage of the current directory", "du -sh path/to/directory", ["path/to/directory"], "du -sh ."),
    ("search for 'error' in app.log", 'grep "search_pattern" path/to/file', ["search_pattern", "path/to/file"],
     'grep "error" app.log'),
    ("ping google.com 3 times", "ping -c count host", ["count", "host"], "ping -c 3 google.com"),
    ("copy ~/notes to /tmp/backup", "cp -r path/to/source_directory path/to/target_directory",
     ["path/to/source_directory", "path/to/target_directory"], "cp -r ~/notes /tmp/backup"),
    ("grep for 'a b' in my file.txt", "grep pattern path/to/file", ["pattern", "path/to/file"],
     "grep 'a b' file.txt"),
    # a name before the noun that says what it is
    ("restart the nginx service", "sudo rc-service service_name restart", ["service_name"],
     "sudo rc-service nginx restart"),
    ("show apt information about the curl package", "apt show package", ["package"], "apt show curl"),
])
def test_the_prompts_values_go_into_the_placeholders_of_their_kind(prompt, code, placeholders, filled):
    assert fill(code, placeholders, prompt) == filled


@pytest.mark.parametrize("prompt", [
    "find the process id of nginx",  # "process id" is one noun: no process named "id"
    "print the last logged in users and show the full user and domain names",
    "kill the running process",
    "show the last command",
])
def test_words_that_say_which_one_are_no_names(prompt):
    assert [v for v in prompt_values(prompt) if v.kind == "word"] == []


def test_an_examples_own_number_is_a_placeholder():
    nl, code = "Show last 5 lines in file", "tail -5 path/to/file"
    assert own_numbers(nl, code) == ["5"]
    assert fill(code, ["path/to/file"] + own_numbers(nl, code), "show the last 20 lines of app.log") == "tail -20 app.log"


@pytest.mark.parametrize("prompt", [
    "create a tar.gz archive of the logs folder",  # a format after "a", not a file
    "search a file for a word, ignoring case",
    "list all user accounts on the system",  # a noun's next word that no placeholder names
])
def test_no_value_no_fill(prompt):
    code = "tar czf path/to/target.tar.gz path/to/file1 path/to/file2"
    assert fill(code, ["path/to/target.tar.gz", "path/to/file1 path/to/file2"], prompt) == code
    assert all(v.kind != "file" for v in prompt_values(prompt))


def test_the_shipped_store_keeps_tldr_placeholders():
    from core.retrieval.user import shipped_store

    store = shipped_store()
    if store.matcher() is None:
        pytest.skip("the shipped store has no tool matcher")
    row = next(e for e in store.search("Show last 5 lines in file", "bash", 20, sources=("tldr",))
               if e.ref == "tldr:common/tail#3")
    assert store.placeholders(row.ref) == ("path/to/file",)
    ranked = store.ranked("show the last 5 lines of server.log", "bash")
    tail = next(r for r in ranked if r.ref.startswith("tldr:common/tail#"))
    assert "path/to/file" in tail.placeholders
    # `touch {{path/to/file{1..10}}}`: the placeholder whole, braces and all ("touch notes.txt}" before)
    assert store.placeholders("tldr:common/touch#6") == ("path/to/file{1..10}",)


def test_a_train_examples_own_value_takes_the_prompts_bare_path():
    from core.retrieval.store import Example
    from core.retrieval.values import fill_example

    def train(nl, code):
        return Example(0, "bash", nl, code, "train")

    cat = train("Display the contents of xx.sh", "cat xx.sh")
    assert fill_example("cat xx.sh", cat, "display the contents of the setup.sh file") == "cat setup.sh"
    count = train("Count the directories under /directory/", "find /directory/ -maxdepth 1 -type d | wc -l")
    assert fill_example(count.code, count, "count the sub-directories under /system") == \
        "find /system -maxdepth 1 -type d | wc -l"
    # a quoted string is the model's to copy (its literal slots); English with a slash is no path
    links = train('Display all symbolic links in the folder "myfiles"', "find -L /myfiles")
    assert fill_example(links.code, links, 'display the links in the folder "dir"') == links.code
    regular = train("Display all regular files in the folder /path", "find /path -type f")
    assert fill_example(regular.code, regular, "display all regular/normal files") == regular.code
    # a value there already, with or without its trailing slash, is not put in again
    big = train("Find jpg files in /ftp/dir/ bigger than 500k", "find /ftp/dir/ -size +500k -iname '*.jpg'")
    assert fill_example(big.code, big, "find the jpg files in /ftp/dir bigger than 500k") == big.code
    # a path ending in the example's file name replaces it; a quoted pattern does not stop that
    tail = train("Print the last lines of data.csv", "tail data.csv")
    assert fill_example(tail.code, tail, "print the last lines of /system/folder1/data.csv") == \
        "tail /system/folder1/data.csv"
    grep = train("Find *.html files under /var containing 'bar'", "find /var -name '*.html' | xargs grep -l bar")
    assert fill_example(grep.code, grep, "count the *.html files in /testbed containing 'foo'").startswith("find /testbed ")
    # a value of the example that the prompt names too is no place for another of its values
    newer = train("Find files modified after /etc/passwd", "find -newer /etc/passwd")
    assert fill_example(newer.code, newer, "find files in the current directory modified after /etc/passwd") == \
        newer.code


def test_a_directory_the_prompt_names_goes_where_the_example_searches_here():
    from core.retrieval.store import Example
    from core.retrieval.values import fill_example

    def train(nl, code):
        return Example(0, "bash", nl, code, "train")

    php = train("Count all the lines of all php files in the current directory recursively",
                "find . -name '*.php' -type f | xargs cat | wc -l")
    assert fill_example(php.code, php, "Count all the lines of all php files in the /testbed directory recursively") \
        == "find /testbed -name '*.php' -type f | xargs cat | wc -l"
    # the example's own destination takes the prompt's; "the current directory" keeps the dot
    cp = train("Copy all regular files to /backup", "find . -type f -exec cp {} /backup \\;")
    assert fill_example(cp.code, cp, "copy the regular files in the current directory to /tmp") == \
        "find . -type f -exec cp {} /tmp \\;"
    # one place, the first: a dot later in the command is the command's own
    mv = train("Move all *.txt files here", "find . -name '*.txt' -exec mv {} . \\;")
    assert fill_example(mv.code, mv, "move the *.txt files under /srv") == "find /srv -name '*.txt' -exec mv {} . \\;"
    # a variable as a path stands for the user's; a directory still missing goes before a bare glob
    mkdir = train("Create the directory $dir", "mkdir $dir")
    assert fill_example(mkdir.code, mkdir, "create a directory /testbed/test_dir") == "mkdir /testbed/test_dir"
    md5 = train('List duplicate md5 sums of the ".java" files', "md5sum *.java | sort | uniq -d")
    assert fill_example(md5.code, md5, 'list duplicate md5 sums of the ".java" files in the /testbed directory') == \
        "md5sum /testbed/*.java | sort | uniq -d"
    sql = train("Remove *.sql files older than 25 days", "find . -name *.sql -mtime +25 -delete")
    assert fill_example(sql.code, sql, "remove the *.sql files in /srv/db older than 25 days") == \
        "find /srv/db -name *.sql -mtime +25 -delete"  # an option's pattern is no place
    # a file name is no place to search from
    touch = train("Create abc.txt in every directory", "find . -type d -exec touch '{}/abc.txt' \\;")
    assert fill_example(touch.code, touch, "create an empty file called notes.txt") == touch.code


def test_a_train_examples_own_user_or_group_takes_the_prompts_name():
    from core.retrieval.store import Example
    from core.retrieval.values import fill_example

    def train(nl, code):
        return Example(0, "bash", nl, code, "train")

    owned = train("Find all files owned by user comp", "find / -user comp")
    assert fill_example(owned.code, owned, "find files owned by the user alice") == "find / -user alice"
    group = train("Find all files that belong to group staff", "find . -group staff")
    assert fill_example(group.code, group, "list the files of the group admins") == "find . -group admins"
    # a bare word with no noun of the example's value stays out ("a directory called projects")
    mkdir = train('Create directory "new" in /tmp', "mkdir /tmp/new")
    assert fill_example(mkdir.code, mkdir, "make a new directory called projects") == mkdir.code


def test_the_values_a_candidate_lacks():
    from core.retrieval.values import missing_values

    prompt = "show the last 20 lines of app.log"
    assert [missing_values(prompt, c) for c in ("tail -20 app.log", "tail -f app.log", "tail -f /var/log/syslog")] == \
        [0, 1, 2]
    # the current directory is said by omission; a quoted pattern is written otherwise (`*.doc`)
    assert missing_values("find the .txt files in the current directory", "find -name '*.txt'") == 0
    assert missing_values('find the files ending with ".doc" under /srv', "find /srv -name '*.doc'") == 0


@pytest.mark.parametrize("prompt, values", [
    ("edit my .bashrc and app.log", [".bashrc", "app.log"]),
    ("split file1..40000 into pieces", []),  # a range, not a file
    ("search for cart1 or ...cart6 in junk", []),
    ("open version 1.2.3", []),
])
def test_file_names_by_their_form(prompt, values):
    assert [v.text for v in prompt_values(prompt)] == values


@pytest.mark.parametrize("prompt, code, against", [
    ("find files larger than 100MB", "find . -size -100M", 1),
    ("find files larger than 100MB", "find . -size +100M", 0),
    ("list the files whose size is greater than 10 bytes", "find . -size 10", 1),  # equality is no "greater"
    ("find files modified in the last 7 days", "find . -mtime +7", 1),
    ("delete files older than 30 days", "find . -mtime +30 -delete", 0),
    ("find files that changed over an hour ago", "find . -cmin -60", 1),
    ("find files bigger than 50MB but smaller than 100MB", "find / -size +50M -size -100M", 0),  # both ways
    ("list files", "find . -size -100M", 0),  # no comparison
    ("find all empty files in the current directory, do not search sub directories", "find . -type f -empty", 1),
    ("find all empty files in the current directory, do not search sub directories",
     "find . -maxdepth 1 -type f -empty", 0),
    ("remove the *.txt files in /srv but not in its subdirectories", "rm /srv/*.txt", 0),
])
def test_a_find_test_against_the_prompts_comparison(prompt, code, against):
    from core.retrieval.values import contradictions

    assert contradictions(prompt, code) == against
