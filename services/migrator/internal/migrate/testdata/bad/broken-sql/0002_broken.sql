CREATE TABLE half (id int);
CREATE TABLE broken (id int,);
