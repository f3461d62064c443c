echo foo > foo && echo bar > bar && mkdir -p dir && echo x > dir/x && chmod 755 dir
