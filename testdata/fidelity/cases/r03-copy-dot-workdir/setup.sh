mkdir -p sub2/x && echo a > sub2/x/a && echo 'sp' > 'f 1'
printf 'Dockerfile\n.dockerignore\n' > .dockerignore
