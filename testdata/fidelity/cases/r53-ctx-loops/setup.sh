mkdir -p d; ln -s self self; ln -s a b; ln -s b a; ln -s ../.. d/up; ln -s /etc/shadow-not-here d/abs; ln -s . d/dot
