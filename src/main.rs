fn main() {
    std::process::exit(fgdeploy::run(std::env::args_os()));
}
