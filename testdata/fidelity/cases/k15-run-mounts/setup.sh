echo input > input.txt
