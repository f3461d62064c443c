mkdir sub && echo s > sub/s
