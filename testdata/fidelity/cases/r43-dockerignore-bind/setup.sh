mkdir -p keep skip sub1 sub2; echo k > keep/k; echo s > skip/s; echo 1 > sub1/a; echo 2 > sub2/b; echo x > sub2/ign.log
printf 'skip\n*/*.log\n' > .dockerignore
