echo f > f; mkdir sub; echo g > sub/g
