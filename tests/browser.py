"""A real headless Chromium for the tests of ``blocks-log serve``.

Debian's ``chromium`` driven through ``chromium-driver`` by Selenium, both
installed with apt-get if absent and we are root; nothing is downloaded at
test time (Selenium Manager stays offline). The browser is kept off the
network with a fresh profile. Under ``CI=true`` a browser that cannot start
fails the tests that need it; elsewhere they skip and say why.

"""
import os
import shutil

import helpers

BROWSER, DRIVER = 'chromium', 'chromedriver'
ARGUMENTS = ['--headless=new', '--disable-gpu', '--disable-dev-shm-usage',
             '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--no-first-run', '--no-default-browser-check',
             '--hide-scrollbars', '--force-device-scale-factor=1']


def unavailable(reason):
    helpers.unavailable('Chromium', reason)


def start(profile):
    """A new Selenium ``WebDriver`` of a headless Chromium whose profile is
    the (new, empty) directory `profile`; ``quit()`` it."""
    if os.environ.get('BLOCKS_LOG_BARE'):
        import pytest
        pytest.skip('no Selenium: the bare environment')
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable('selenium is not installed (pip install selenium)')
    if not (shutil.which(BROWSER) and shutil.which(DRIVER)):
        helpers.debian_install('chromium', 'chromium-driver')
    browser, driver = shutil.which(BROWSER), shutil.which(DRIVER)
    if not (browser and driver):
        unavailable('no {} or {} (apt-get install chromium '
                    'chromium-driver)'.format(BROWSER, DRIVER))
    os.environ['SE_OFFLINE'] = 'true'  # Selenium Manager: never download
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ARGUMENTS + ['--user-data-dir=' + str(profile)]:
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument('--no-sandbox')  # Chromium refuses root else
    try:
        session = webdriver.Chrome(options=options,
                                   service=Service(executable_path=driver))
    except WebDriverException as error:
        unavailable('Chromium did not start: {}'.format(
            str(error).strip().splitlines()[0]))
    return session


def viewport(session, width, height):
    """Make the page `width` x `height` CSS pixels, as a screen of that
    size shows it (a phone's width included)."""
    session.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
        'width': width, 'height': height, 'deviceScaleFactor': 1,
        'mobile': width < 600})
