# Application entry point of the example device.
import app.net as net

def main():
    net.connect()
    print('device up')

main()
